import * as Effect from "effect/Effect"
import type { AuditOutcome, AuditRecord, AuditSink, JsonRpcRequest } from "@dtma/domain"
import type { Context, Middleware } from "koa"
import type { Logger } from "../composition/logger.ts"
import type { CallEnd, CallTally } from "../mcpProxy/callTally.ts"
import { auditMcpRequest, type McpEndpointRoute } from "./auditMcpRequest.ts"
import { errorCodeOf, outcomeOfStatus, requestBytesOf, responseBytesOf, traceIdOf } from "./auditRequests.ts"
import { isMcpEndpoint } from "./mcpEndpoints.ts"
import { requestStateOf } from "./requestState.ts"

// In any letter case, as the router matches it (see `MCP_ENDPOINT_PATH`).
const SERVER_ENDPOINT = /^\/mcp-servers\/([^/]+)\/mcp\/?$/i

/** The route pattern of an MCP endpoint's path, and the server it names (`/mcp` names none). */
const endpointOf = (path: string): { readonly route: McpEndpointRoute; readonly server: string | null } => {
  const raw = SERVER_ENDPOINT.exec(path)?.[1]
  if (raw === undefined) return { route: "/mcp", server: null }
  try {
    return { route: "/mcp-servers/:name/mcp", server: decodeURIComponent(raw) }
  } catch {
    return { route: "/mcp-servers/:name/mcp", server: raw }
  }
}

interface Call {
  readonly request: JsonRpcRequest
  readonly server: string | null
  readonly sessionId: string | null
  readonly traceId: string | null
  readonly started: bigint
  end: (CallEnd & { readonly durationMs: number }) | null
}

const millisSince = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e6

/** The calls of one HTTP request: each ends once, and none after the request's answer is done. */
class RequestCalls implements CallTally {
  calls: Array<Call> = []
  #closed = false

  begin: CallTally["begin"] = ({ request, server, sessionId, traceId }) => {
    const call: Call = { request, server, sessionId, traceId, started: process.hrtime.bigint(), end: null }
    if (!this.#closed) this.calls.push(call)
    return (end) => {
      if (call.end === null && !this.#closed) call.end = { ...end, durationMs: millisSince(call.started) }
    }
  }

  abandon(): void {
    this.calls = []
  }

  close(): ReadonlyArray<Call> {
    this.#closed = true
    return this.calls
  }
}

const objectOf = (value: unknown): Readonly<Record<string, unknown>> | null =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null

/**
 * The machine code of an MCP endpoint's refusal: its JSON-RPC error's `data.error` (an OAuth error
 * such as `invalid_token`, or the DTMA's own), else the JSON-RPC code, else the status.
 */
const refusalCodeOf = (status: number, body: unknown): string | number | null => {
  const error = objectOf(objectOf(Array.isArray(body) ? body[0] : body)?.["error"])
  const data = objectOf(error?.["data"])?.["error"]
  if (typeof data === "string") return data
  if (typeof error?.["code"] === "number") return error["code"]
  return errorCodeOf(status, body)
}

export interface AuditMcpEndpointsOptions {
  readonly audit: AuditSink
  readonly logger: Logger
  readonly now?: () => number
}

/**
 * The audit of the MCP endpoints (agent-access spec, "Audit"), once each answer is done: one record
 * per JSON-RPC request the proxy took on (its method, what it named, how it ended: `denied` for
 * what the caller's grants do not reach, answered as if absent; on `/mcp`, the server it went to and
 * the name it has there), and one record for an HTTP request
 * that carried none the proxy took on (refused at the edge, refused as a whole, a GET stream, a
 * DELETE, notifications only). Never a header, an argument, a result or a token.
 */
export const auditMcpEndpoints = (options: AuditMcpEndpointsOptions): Middleware => {
  const now = options.now ?? Date.now
  const write = (record: AuditRecord) => Effect.runSync(options.audit.record(record))

  const recordsOf = (ctx: Context, calls: ReadonlyArray<Call>, started: bigint): ReadonlyArray<AuditRecord> => {
    const { route, server } = endpointOf(ctx.path)
    const caller = requestStateOf(ctx).caller ?? null
    const time = now()
    if (calls.length > 0)
      return calls.map((call) =>
        auditMcpRequest({
          time,
          route,
          // On `/mcp`, the server the request went to; on a server's endpoint, that server.
          server: route === "/mcp" ? call.server : server,
          caller,
          request: call.request,
          outcome: call.end?.outcome ?? "cancelled",
          errorCode: call.end?.errorCode ?? null,
          durationMs: call.end?.durationMs ?? millisSince(call.started),
          requestBytes: calls.length === 1 ? requestBytesOf(ctx) : Buffer.byteLength(JSON.stringify(call.request)),
          responseBytes: call.end?.responseBytes ?? 0,
          sessionId: call.sessionId,
          traceId: call.traceId ?? traceIdOf(ctx),
        }),
      )
    const res = ctx.res
    // The proxy writes its streams and answers itself (`ctx.respond` false): its status is the response's.
    const status = ctx.respond === false ? res.statusCode : ctx.status
    const outcome: AuditOutcome = res.writableFinished || res.headersSent ? outcomeOfStatus(status) : "cancelled"
    const body: unknown = ctx.request.body
    const message = objectOf(body)
    // A session the answer names, or one the request named and was served on (a stream, a DELETE); never one merely claimed.
    const session = res.getHeader("mcp-session-id") ?? (outcome === "ok" ? requestStateOf(ctx).mcpSessionId : undefined)
    return [
      auditMcpRequest({
        time,
        route,
        server,
        caller,
        // A lone message names its method (an `initialize` refused, a notification); otherwise the HTTP method does.
        request: typeof message?.["method"] === "string" ? message : { method: ctx.method },
        outcome,
        errorCode: outcome === "ok" || outcome === "cancelled" ? null : refusalCodeOf(status, ctx.body),
        durationMs: millisSince(started),
        requestBytes: requestBytesOf(ctx),
        responseBytes: responseBytesOf(ctx),
        sessionId: typeof session === "string" && session !== "" ? session : null,
        traceId: traceIdOf(ctx),
      }),
    ]
  }

  return async (ctx, next) => {
    if (!isMcpEndpoint(ctx.path)) return next()
    const started = process.hrtime.bigint()
    const calls = new RequestCalls()
    requestStateOf(ctx).mcpCalls = calls
    ctx.res.once("close", () => {
      try {
        for (const record of recordsOf(ctx, calls.close(), started)) write(record)
      } catch (error) {
        options.logger.error({ error: error instanceof Error ? { name: error.name, message: error.message } : String(error) }, "audit record failed (a bug)")
      }
    })
    return next()
  }
}
