import * as Effect from "effect/Effect"
import { toolOperations, withToolSecrets, type ManagedContainer } from "@dtma/domain"
import type { RouterMiddleware } from "@koa/router"
import { deployRequestOf } from "../requests/deployRequestOf.ts"
import { dockerPortMap, dockerStateOf } from "../responses/dockerShapes.ts"
import { ignoredKeysOf } from "../requests/ignoredKeys.ts"
import type { HttpFailure, Reply } from "../responses/errorTable.ts"
import { replyOf } from "../responses/replyOf.ts"
import { send, type HandlerDeps } from "./HandlerDeps.ts"

/** The legacy 201 body; `ignoredKeys` (this DTMA's addition) only when the body held keys it did not apply. */
const deployed = (c: ManagedContainer, ignoredKeys: ReadonlyArray<string>) => ({
  success: true,
  message: `Tool '${c.name}' deployed successfully.`,
  data: {
    container_id: c.containerId,
    instance_name_on_toolbox: c.name,
    account_tool_instance_id: c.accountToolInstanceId,
    image: c.image,
    ports: dockerPortMap(c.ports),
    state: dockerStateOf(c),
    ...(ignoredKeys.length === 0 ? {} : { ignoredKeys }),
  },
})

const nameIn = (body: unknown): string => {
  const name = typeof body === "object" && body !== null ? (body as Record<string, unknown>).instanceNameOnToolbox : undefined
  return typeof name === "string" ? name : ""
}

/** The agent a standard tool is deployed for (an optional key the backend may send), or null. */
const agentIdIn = (body: unknown): string | null => {
  const agentId = typeof body === "object" && body !== null ? (body as Record<string, unknown>).agentId : undefined
  return typeof agentId === "string" && agentId.trim() !== "" ? agentId : null
}

// The router has already decoded the name once; it must not be decoded again.
export const nameParam = (params: Record<string, string | undefined>): string => params.name ?? ""

const ok = (message: string, state?: Parameters<typeof dockerStateOf>[0]["state"]): Reply => ({
  status: 200,
  body: { success: true, message, ...(state === undefined ? {} : { data: { state: dockerStateOf({ state }) } }) },
})

/** The tool routes: parse, call one use case, render. MCP servers among the tools go through `McpServers`. */
export const toolHandlers = (deps: HandlerDeps): Record<"deployTool" | "removeTool" | "startTool" | "stopTool", RouterMiddleware> => {
  const { logger } = deps
  const tools = toolOperations(deps.instances, deps.mcpServers)
  /** A route on `/tools/:name`: one operation on the named instance, rendered by `render`. */
  const byName =
    <A>(verb: "remove" | "start" | "stop", act: (name: string) => Effect.Effect<A, HttpFailure>, render: (name: string, value: A) => Reply): RouterMiddleware =>
    async (ctx) => {
      const name = nameParam(ctx.params)
      send(ctx, await replyOf(act(name), { operation: { verb, name }, logger, onSuccess: (value) => render(name, value) }))
    }
  return {
    deployTool: async (ctx) => {
      const body: unknown = ctx.request.body
      const agentId = agentIdIn(body)
      const deploy = Effect.fromResult(deployRequestOf(body)).pipe(
        // A standard tool deployed for an agent gets the secrets the backend keeps for it, as before.
        Effect.flatMap((request) =>
          agentId === null || request.mcp != null ? Effect.succeed(request) : withToolSecrets(deps.credentialSource, request, agentId),
        ),
        Effect.flatMap(tools.deploy),
      )
      send(
        ctx,
        await replyOf(deploy, {
          operation: { verb: "deploy", name: nameIn(body) },
          logger,
          onSuccess: (c) => ({ status: 201, body: deployed(c, ignoredKeysOf(body)) }),
        }),
      )
    },
    removeTool: byName(
      "remove",
      (name) => tools.remove(name),
      (name) => ok(`Tool instance '${name}' removed successfully.`),
    ),
    startTool: byName(
      "start",
      (name) => tools.start(name),
      (name, { outcome, state }) =>
        ok(outcome === "already_running" ? `Tool instance '${name}' is already running.` : `Tool instance '${name}' started successfully.`, state),
    ),
    stopTool: byName(
      "stop",
      (name) => tools.stop(name),
      (name, state) => ok(`Tool instance '${name}' stopped successfully.`, state),
    ),
  }
}
