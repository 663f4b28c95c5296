import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { serverNameProblem, type AgentAccess, type JsonWebKeySet, type Revocation } from "@dtma/domain"
import type { RouterMiddleware } from "@koa/router"
import type { Context } from "koa"
import { agentTokenRequestOf } from "../requests/agentTokenRequestOf.ts"
import { isRecord } from "../requests/deployRequestOf.ts"
import { InvalidRequest } from "../requests/InvalidRequest.ts"
import type { HttpFailure, Operation, Reply } from "../responses/errorTable.ts"
import { protectedResourceMetadataOf } from "../responses/protectedResourceMetadata.ts"
import { replyOf } from "../responses/replyOf.ts"
import type { AgentAccessRouteId } from "./agentAccessRoutes.ts"
import { nameParam } from "./toolHandlers.ts"
import { send, type HandlerDeps } from "./HandlerDeps.ts"

// RFC 7517/7518 members that hold a private or symmetric key: never published, whatever a key set holds.
const PRIVATE_MEMBERS = new Set(["d", "p", "q", "dp", "dq", "qi", "oth", "k"])

/** The key set without any private member. */
export const publicKeySetOf = (set: JsonWebKeySet): JsonWebKeySet => ({
  keys: set.keys.map((key) => Object.fromEntries(Object.entries(key).filter(([member]) => !PRIVATE_MEMBERS.has(member))) as typeof key),
})

const iso = (ms: number): string => new Date(ms).toISOString()

const revokedData = (r: Revocation) =>
  r.kind === "agent" ? { kind: r.kind, agentId: r.agentId, revokedAt: iso(r.revokedAt) } : { kind: r.kind, tokenId: r.tokenId, revokedAt: iso(r.revokedAt) }

// An operation's name goes into failure messages: a body may hold a megabyte where an id belongs.
const nameFor = (value: unknown): string => (typeof value === "string" ? value.slice(0, 128) : "")

/** The agent-access routes: parse, call one use case of `AgentAccess`, render. */
export const agentAccessHandlers = (deps: HandlerDeps, access: AgentAccess): Record<AgentAccessRouteId, RouterMiddleware> => {
  const run = async <A>(ctx: Context, effect: Effect.Effect<A, HttpFailure>, operation: Operation, onSuccess: (value: A) => Reply) =>
    send(ctx, await replyOf(effect, { operation, logger: deps.logger, onSuccess }))
  const resource = { resourceUrl: deps.config.access.resourceUrl, issuers: access.issuers }

  return {
    issueAgentToken: async (ctx) => {
      const body: unknown = ctx.request.body
      const issue = Effect.fromResult(agentTokenRequestOf(body)).pipe(Effect.flatMap((request) => access.issue(request)))
      // The answer carries a credential (RFC 6749 §5.1): no cache may keep it.
      ctx.set("Cache-Control", "no-store")
      await run(ctx, issue, { verb: "issue_token", name: nameFor(isRecord(body) ? body["agentId"] : undefined), subject: "agent" }, (issued) => ({
        status: 201,
        body: { success: true, data: { token: Redacted.value(issued.token), tokenId: issued.tokenId, expiresAt: iso(issued.expiresAt) } },
      }))
    },
    agentTokenKeys: async (ctx) => {
      await run(ctx, access.jwks(), { verb: "list_keys" }, (set) => ({ status: 200, body: publicKeySetOf(set) }))
    },
    rotateAgentTokenKey: async (ctx) => {
      await run(ctx, access.rotate(), { verb: "rotate_keys" }, ({ kid }) => ({
        status: 200,
        body: {
          success: true,
          message: `Agent tokens are signed with key '${kid}' from now on; tokens signed before stay valid until they expire.`,
          data: { kid },
        },
      }))
    },
    revokeAgent: async (ctx) => {
      const agentId = ctx.params["agentId"] ?? ""
      await run(ctx, access.revokeAgent(agentId), { verb: "revoke", name: nameFor(agentId), subject: "agent" }, (revocation) => ({
        status: 200,
        body: { success: true, message: `Agent '${agentId}' revoked: its tokens issued up to now are refused.`, data: revokedData(revocation) },
      }))
    },
    revokeAgentToken: async (ctx) => {
      const tokenId = ctx.params["tokenId"] ?? ""
      await run(ctx, access.revokeToken(tokenId), { verb: "revoke", name: nameFor(tokenId), subject: "agent_token" }, (revocation) => ({
        status: 200,
        body: { success: true, message: `Agent token '${tokenId}' revoked.`, data: revokedData(revocation) },
      }))
    },
    protectedResourceMetadata: (ctx) => {
      ctx.body = protectedResourceMetadataOf(resource, { kind: "dtma" })
    },
    agentEndpointResourceMetadata: (ctx) => {
      ctx.body = protectedResourceMetadataOf(resource, { kind: "agent_endpoint" })
    },
    mcpServerResourceMetadata: async (ctx) => {
      const name = nameParam(ctx.params)
      const problem = serverNameProblem(name)
      const checked = problem === null ? Result.succeed(name) : Result.fail(new InvalidRequest({ path: "name", problem }))
      await run(ctx, Effect.fromResult(checked), { verb: "get", name: nameFor(name), subject: "mcp_server" }, (server) => ({
        status: 200,
        body: protectedResourceMetadataOf(resource, { kind: "mcp_server", name: server }),
      }))
    },
  }
}
