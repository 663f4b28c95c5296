import type { Context as TraceContext } from "@opentelemetry/api"
import type { CallerIdentity } from "@dtma/domain"
import type { Context } from "koa"
import type { CallTally } from "../mcpProxy/callTally.ts"

/**
 * What the middlewares leave on `ctx.state` for the handlers and middlewares after them: the one
 * place its fields are declared. Additive: a middleware adds its own fields and documents who sets
 * and who reads them; no field is renamed or repurposed.
 */
export interface RequestState {
  /**
   * Who the request is from, set by `authenticate` once its credential is recognised (also on a
   * request it then refuses, such as an agent token on a management route, for the audit); absent
   * on public routes and when no credential was recognised. Read by the grants, the rate limits and
   * the audit.
   */
  caller?: CallerIdentity
  /**
   * The trace the request belongs to (32 hex digits), set by `traceRequests` first thing: the
   * request's own server span when tracing is on, the caller's `traceparent` when tracing is off;
   * absent when neither. The audit record of a management operation carries it.
   */
  traceId?: string
  /** The OpenTelemetry context of the request's server span (set by `traceRequests`): the parent of the MCP request spans. */
  traceContext?: TraceContext
  /**
   * On an MCP endpoint, set by `auditMcpEndpoints` first thing: where the proxy counts each
   * JSON-RPC request it takes on, for one audit record each.
   */
  mcpCalls?: CallTally
  /**
   * The client session an MCP endpoint's request was served on, set by the MCP proxy once it has
   * found the session the request's `Mcp-Session-Id` names and its caller may use; absent when none
   * was checked (a 2026-07-28 request has none, whatever header it carries). Read by the audit.
   */
  mcpSessionId?: string
}

/** `ctx.state`, typed. */
export const requestStateOf = (ctx: Pick<Context, "state">): RequestState => ctx.state as RequestState
