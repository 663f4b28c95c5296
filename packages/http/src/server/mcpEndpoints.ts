import type { Context } from "koa"

/**
 * The MCP endpoints: `/mcp` (the agent endpoint) and `/mcp-servers/:name/mcp`, as the router matches
 * them: with or without a final slash, and in any letter case (`/MCP-Servers/x/Mcp` is served by the
 * MCP proxy too, so it must get the same Origin check, token rules and audit).
 */
export const MCP_ENDPOINT_PATH = /^\/mcp(?:-servers\/[^/]+\/mcp)?\/?$/i

export const isMcpEndpoint = (path: string): boolean => MCP_ENDPOINT_PATH.test(path)

/**
 * JSON-RPC error codes of refusals at the MCP edge, before any request reaches a session (the
 * implementation-defined server-error range; MCP names none of these).
 */
export const EdgeErrorCodes = {
  /** No token, or one that is refused: HTTP 401. */
  Unauthorized: -32010,
  /** A token or origin that may not use this endpoint: HTTP 403. */
  Forbidden: -32011,
  /** Over the agent's rate: HTTP 429. */
  RateLimited: -32012,
  /** The token cannot be checked now (its issuer's keys are unreachable): HTTP 503. */
  Unavailable: -32013,
} as const

/** Answers a refused request on an MCP endpoint with a JSON-RPC error whose id is null (nothing of the body was read). */
export const refuseMcp = (
  ctx: Context,
  refusal: {
    readonly status: number
    readonly code: number
    readonly message: string
    /** Machine-readable, in the error's `data.error` (an OAuth error code, or the DTMA's). */
    readonly error: string
    readonly headers?: Readonly<Record<string, string>>
  },
): void => {
  ctx.status = refusal.status
  if (refusal.headers !== undefined) ctx.set(refusal.headers)
  ctx.body = { jsonrpc: "2.0", id: null, error: { code: refusal.code, message: refusal.message, data: { error: refusal.error } } }
}
