import { ErrorCodes, type InstanceNotFound, type IsolatedInstanceLimit, type JsonRpcId, type McpServerBusy, type McpServerUnavailable } from "@dtma/domain"
import type { SessionLimitReached } from "./SessionLimitReached.ts"

/** Why the proxy refuses a request before any of it reaches the server. */
export type ProxyFailure = InstanceNotFound | McpServerUnavailable | McpServerBusy | SessionLimitReached | IsolatedInstanceLimit

interface Row {
  readonly status: number
  readonly code: number
  /** Seconds for `Retry-After`, when retrying later can succeed. */
  readonly retryAfterS: number | null
}

/** The one mapping from a refusal to its HTTP status and JSON-RPC error code; a test pins it. */
export const PROXY_ERROR_TABLE: { readonly [T in ProxyFailure["_tag"]]: Row } = {
  InstanceNotFound: { status: 404, code: ErrorCodes.InvalidRequest, retryAfterS: null },
  McpServerUnavailable: { status: 503, code: ErrorCodes.ConnectionClosed, retryAfterS: 1 },
  McpServerBusy: { status: 429, code: ErrorCodes.ServerBusy, retryAfterS: 1 },
  // Sessions come free as clients end them or go idle: seconds, not a moment.
  SessionLimitReached: { status: 429, code: ErrorCodes.ServerBusy, retryAfterS: 5 },
  // An instance comes free once another agent's goes idle: minutes, not a moment.
  IsolatedInstanceLimit: { status: 429, code: ErrorCodes.ServerBusy, retryAfterS: 30 },
}

const messageOf = (failure: ProxyFailure): string =>
  failure._tag === "InstanceNotFound" ? `No MCP server named '${failure.name}' is managed by this DTMA.` : failure.message

export interface ProxyReply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
}

export const jsonRpcError = (id: JsonRpcId | null, code: number, message: string) => ({ jsonrpc: "2.0", id, error: { code, message } }) as const

/**
 * The HTTP answer to a refused POST: one JSON-RPC error per request it carried (a single object for
 * a single request, `id: null` when it carried none).
 */
export const replyForFailure = (failure: ProxyFailure, ids: ReadonlyArray<JsonRpcId>, batch = false): ProxyReply => {
  const row = PROXY_ERROR_TABLE[failure._tag]
  const errors = (ids.length === 0 ? [null] : ids).map((id) => jsonRpcError(id, row.code, messageOf(failure)))
  return {
    status: row.status,
    headers: row.retryAfterS === null ? {} : { "retry-after": String(row.retryAfterS) },
    body: batch ? errors : errors[0],
  }
}
