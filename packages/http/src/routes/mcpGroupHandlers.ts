import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { DeployRequest } from "@dtma/domain"
import type { RouterMiddleware } from "@koa/router"
import { firstIssue, isRecord } from "../requests/deployRequestOf.ts"
import { mcpDeployRequestOf, type McpDeployProblem } from "../requests/mcpDeployRequestOf.ts"
import { deployMcpGroupBody, mcpServerBodyOf } from "../requests/mcpGroupSchemas.ts"
import type { McpGroups } from "@dtma/domain"
import { deployedData } from "../responses/mcpServerShapes.ts"
import { MissingRequiredFields } from "../requests/MissingRequiredFields.ts"
import { replyOf } from "../responses/replyOf.ts"
import { originOf, send, type HandlerDeps } from "./HandlerDeps.ts"

const MAX_CONCURRENT = 4

/** The group's servers as deploy requests, every one checked before any is deployed. */
const groupRequestOf = (raw: unknown): Result.Result<{ groupId: string; requests: ReadonlyArray<DeployRequest>; concurrency: number }, McpDeployProblem> => {
  const body = isRecord(raw) ? raw : {}
  const missing = (["groupId", "servers"] as const).filter((k) => body[k] == null || body[k] === "")
  if (missing.length > 0) return Result.fail(new MissingRequiredFields({ fields: missing, required: ["groupId", "servers"] }))
  const parsed = deployMcpGroupBody.safeParse(body)
  if (!parsed.success) return Result.fail(firstIssue(parsed.error))
  const { groupId, servers, options } = parsed.data
  return Result.all(servers.map((s) => mcpDeployRequestOf(mcpServerBodyOf(s)))).pipe(
    Result.map((requests) => ({ groupId, requests, concurrency: Math.min(MAX_CONCURRENT, options?.maxConcurrentDeployments ?? 1) })),
  )
}

// The group id is the operation's name: failures name the group.
const groupIdIn = (body: unknown): string => (isRecord(body) && typeof body["groupId"] === "string" ? body["groupId"] : "")

/** `POST /mcp/groups` and `DELETE /mcp/groups/:groupId`, the legacy alias over the MCP server API. */
export const mcpGroupHandlers = (deps: HandlerDeps, groups: McpGroups): Record<"deployMcpGroup" | "removeMcpGroup", RouterMiddleware> => ({
  deployMcpGroup: async (ctx) => {
    const body: unknown = ctx.request.body
    const deploy = Effect.fromResult(groupRequestOf(body)).pipe(
      Effect.flatMap(({ groupId, requests, concurrency }) => groups.deploy(groupId, requests, concurrency)),
    )
    const origin = originOf(ctx, deps.config)
    send(
      ctx,
      await replyOf(deploy, {
        operation: { verb: "deploy", name: groupIdIn(body), subject: "mcp_group" },
        logger: deps.logger,
        onSuccess: (views) => ({
          status: 201,
          body: {
            success: true,
            message: `MCP server group '${groupIdIn(body)}' deployed.`,
            data: { groupId: groupIdIn(body), servers: views.map((v) => deployedData(v, origin)) },
          },
        }),
      }),
    )
  },
  removeMcpGroup: async (ctx) => {
    const groupId = ctx.params["groupId"] ?? ""
    send(
      ctx,
      await replyOf(groups.remove(groupId), {
        operation: { verb: "remove", name: groupId, subject: "mcp_group" },
        logger: deps.logger,
        onSuccess: (removed) => ({ status: 200, body: { success: true, message: `MCP server group '${groupId}' removed.`, data: { groupId, removed } } }),
      }),
    )
  },
})
