import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { McpServerView } from "@dtma/domain"
import type { RouterMiddleware } from "@koa/router"
import type { Context } from "koa"
import { fieldOf } from "../requests/deployRequestOf.ts"
import { InvalidRequest } from "../requests/InvalidRequest.ts"
import type { HttpFailure, Operation, Reply } from "../responses/errorTable.ts"
import { mcpDeployRequestOf } from "../requests/mcpDeployRequestOf.ts"
import { logsQuery } from "../requests/mcpSchemas.ts"
import { deployedData, detailOf, summaryOf } from "../responses/mcpServerShapes.ts"
import { replyOf } from "../responses/replyOf.ts"
import { originOf, send, type HandlerDeps } from "./HandlerDeps.ts"
import { nameParam } from "./toolHandlers.ts"

export type McpServerRouteId =
  | "deployMcpServer"
  | "listMcpServers"
  | "getMcpServer"
  | "startMcpServer"
  | "stopMcpServer"
  | "restartMcpServer"
  | "removeMcpServer"
  | "mcpServerLogs"
  | "redeployMcpServer"
  | "refreshMcpServerOAuth"

const DEFAULT_TAIL = 200

/** `?tail=`: 1 to 5000 lines, 200 when absent; `?agent=`: a `per_agent` server's instance for that agent. */
export const logsOptionsOf = (query: Readonly<Record<string, unknown>>): Result.Result<{ tail: number; agent: string | undefined }, InvalidRequest> => {
  const parsed = logsQuery.safeParse(query)
  if (parsed.success) return Result.succeed({ tail: parsed.data.tail ?? DEFAULT_TAIL, agent: parsed.data.agent })
  const issue = parsed.error.issues[0]
  return Result.fail(new InvalidRequest({ path: fieldOf(issue?.path ?? ["tail"]), problem: issue?.message ?? "is invalid" }))
}

const ok = (data: unknown, message?: string): Reply => ({ status: 200, body: { success: true, ...(message === undefined ? {} : { message }), data } })

/** The `/mcp-servers` routes: parse, call one use case, render. */
export const mcpServerHandlers = (deps: HandlerDeps): Record<McpServerRouteId, RouterMiddleware> => {
  const { mcpServers, logger } = deps
  const run = async <A>(ctx: Context, effect: Effect.Effect<A, HttpFailure>, operation: Operation, onSuccess: (value: A) => Reply) =>
    send(ctx, await replyOf(effect, { operation: { ...operation, subject: "mcp_server" }, logger, onSuccess }))
  const viewRoute =
    (
      verb: "get" | "stop" | "restart",
      act: (name: string) => Effect.Effect<McpServerView, HttpFailure>,
      message?: (name: string) => string,
    ): RouterMiddleware =>
    async (ctx) => {
      const name = nameParam(ctx.params)
      await run(ctx, act(name), { verb, name }, (v) => ok(detailOf(v, originOf(ctx, deps.config)), message?.(name)))
    }

  return {
    deployMcpServer: async (ctx) => {
      const body: unknown = ctx.request.body
      const name =
        typeof (body as Record<string, unknown> | null)?.["instanceNameOnToolbox"] === "string"
          ? String((body as Record<string, unknown>)["instanceNameOnToolbox"])
          : ""
      const deploy = Effect.fromResult(mcpDeployRequestOf(body)).pipe(Effect.flatMap((request) => mcpServers.deploy(request)))
      await run(ctx, deploy, { verb: "deploy", name }, (v) => ({
        status: 201,
        body: { success: true, message: `MCP server '${v.instanceName}' deployed.`, data: deployedData(v, originOf(ctx, deps.config)) },
      }))
    },
    listMcpServers: async (ctx) => {
      const origin = originOf(ctx, deps.config)
      await run(
        ctx,
        Effect.sync(() => mcpServers.list()),
        { verb: "list" },
        (views) => ok({ servers: views.map((v) => summaryOf(v, origin)) }),
      )
    },
    getMcpServer: async (ctx) => {
      const name = nameParam(ctx.params)
      const both = Effect.all([mcpServers.get(name), mcpServers.oauth(name)])
      await run(ctx, both, { verb: "get", name }, ([v, oauth]) => ok(detailOf(v, originOf(ctx, deps.config), oauth)))
    },
    stopMcpServer: viewRoute(
      "stop",
      (name) => mcpServers.stop(name),
      (name) => `MCP server '${name}' stopped.`,
    ),
    restartMcpServer: viewRoute(
      "restart",
      (name) => mcpServers.restart(name),
      (name) => `MCP server '${name}' restarted.`,
    ),
    startMcpServer: async (ctx) => {
      const name = nameParam(ctx.params)
      await run(ctx, mcpServers.startUnlessServing(name), { verb: "start", name }, ({ outcome, value }) =>
        ok(
          detailOf(value, originOf(ctx, deps.config)),
          outcome === "already_running" ? `MCP server '${name}' is already running.` : `MCP server '${name}' started.`,
        ),
      )
    },
    removeMcpServer: async (ctx) => {
      const name = nameParam(ctx.params)
      const remove = mcpServers.get(name).pipe(Effect.andThen(mcpServers.remove(name)))
      await run(ctx, remove, { verb: "remove", name }, () => ({ status: 200, body: { success: true, message: `MCP server '${name}' removed.` } }))
    },
    redeployMcpServer: async (ctx) => {
      const name = nameParam(ctx.params)
      const body = ctx.request.body as Record<string, unknown> | null
      const given = body?.["instanceNameOnToolbox"]
      const redeploy =
        given !== undefined && given !== name
          ? Effect.fail(new InvalidRequest({ path: "instanceNameOnToolbox", problem: "must be absent or equal to the name in the path" }))
          : Effect.fromResult(mcpDeployRequestOf({ ...body, instanceNameOnToolbox: name })).pipe(Effect.flatMap((request) => mcpServers.redeploy(request)))
      await run(ctx, redeploy, { verb: "redeploy", name }, (v) => ok(detailOf(v, originOf(ctx, deps.config)), `MCP server '${name}' redeployed.`))
    },
    refreshMcpServerOAuth: async (ctx) => {
      const name = nameParam(ctx.params)
      await run(ctx, mcpServers.refreshCredentials(name), { verb: "refresh_oauth", name }, (connections) =>
        ok(
          {
            instanceName: name,
            connections: connections.map(({ connectionId, provider, status, expiresAt, refreshedAt }) => ({
              connectionId,
              provider,
              status,
              expiresAt,
              refreshedAt,
            })),
          },
          `OAuth credentials of MCP server '${name}' refreshed.`,
        ),
      )
    },
    mcpServerLogs: async (ctx) => {
      const name = nameParam(ctx.params)
      const logs = Effect.fromResult(logsOptionsOf(ctx.query)).pipe(Effect.flatMap(({ tail, agent }) => mcpServers.logs(name, tail, agent)))
      await run(ctx, logs, { verb: "logs", name }, (lines) => ok({ instanceName: name, lines: lines.map((l) => ({ stream: l.stream, text: l.text })) }))
    },
  }
}
