import * as Effect from "effect/Effect"
import { auditRecordOf, type AuditOutcome, type AuditSink, type CallerIdentity } from "@dtma/domain"
import type { Context, Middleware } from "koa"
import type { Logger } from "../composition/logger.ts"
import { isMcpEndpoint } from "./mcpEndpoints.ts"
import { requestStateOf } from "./requestState.ts"

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/
const CODE = /^[a-z][a-z0-9_]{0,63}$/

/** A management request's outcome, from its status: 2xx and 3xx ok, 401 and 403 denied, 429 rate limited, 408 and 504 timeout. */
export const outcomeOfStatus = (status: number): AuditOutcome => {
  if (status < 400) return "ok"
  if (status === 401 || status === 403) return "denied"
  if (status === 429) return "rate_limited"
  if (status === 408 || status === 504) return "timeout"
  return "error"
}

/** A failure's machine code: the body's `code` when it has one, else the status. Never the body's words. */
export const errorCodeOf = (status: number, body: unknown): string | null => {
  if (status < 400) return null
  const code = typeof body === "object" && body !== null ? (body as { code?: unknown }).code : undefined
  return typeof code === "string" && CODE.test(code) ? code : String(status)
}

/** The request's trace id: the one tracing set, else the caller's `traceparent` (which tracing continues), else none. */
export const traceIdOf = (ctx: Context): string | null => requestStateOf(ctx).traceId ?? TRACEPARENT.exec(ctx.get("traceparent"))?.[1] ?? null

/** The bytes of the request's body, as received. */
export const requestBytesOf = (ctx: Context): number => {
  const length = ctx.request.length
  if (length !== undefined) return length
  const raw: unknown = (ctx.request as { rawBody?: unknown }).rawBody
  return typeof raw === "string" ? Buffer.byteLength(raw) : 0
}

/** The bytes of the answer's body, when it said its length. */
export const responseBytesOf = (ctx: Context): number => {
  const length = Number(ctx.res.getHeader("content-length"))
  return Number.isSafeInteger(length) && length > 0 ? length : 0
}

export interface AuditRequestsOptions {
  readonly audit: AuditSink
  /** The route pattern a request maps to (`unmatched` for none), and the parameters the path gives it. */
  readonly matchRoute: (method: string, path: string) => { readonly route: string; readonly params: Readonly<Record<string, string>> }
  readonly isPublic: (method: string, path: string) => boolean
  readonly logger: Logger
  readonly now?: () => number
}

/**
 * One audit record per management request, once its answer is sent (or the caller went away:
 * `cancelled`): every request but the public routes' (`/health`, `/status`: reads anyone may make,
 * not operations) and the MCP endpoints' (`auditMcpEndpoints` records those, per JSON-RPC request).
 * Refused requests are recorded too, their caller anonymous when no credential was recognised. The
 * record holds the route pattern, the HTTP method, the instance the path names, the status's
 * outcome and code, sizes and time; never a header, the query, the body or the answer.
 */
export const auditRequests = (options: AuditRequestsOptions): Middleware => {
  const now = options.now ?? Date.now
  // `authenticate` leaves whoever it recognised, refused or not; anyone else is anonymous.
  const callerOf = (ctx: Context): CallerIdentity | null => requestStateOf(ctx).caller ?? null
  return async (ctx, next) => {
    if (isMcpEndpoint(ctx.path) || options.isPublic(ctx.method, ctx.path)) return next()
    const started = process.hrtime.bigint()
    ctx.res.once("close", () => {
      try {
        const { route, params } = options.matchRoute(ctx.method, ctx.path)
        const finished = ctx.res.writableFinished
        const record = auditRecordOf({
          time: now(),
          caller: callerOf(ctx),
          route,
          server: params["name"] ?? null,
          method: ctx.method,
          outcome: finished ? outcomeOfStatus(ctx.status) : "cancelled",
          errorCode: finished ? errorCodeOf(ctx.status, ctx.body) : null,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
          requestBytes: requestBytesOf(ctx),
          responseBytes: finished ? responseBytesOf(ctx) : 0,
          traceId: traceIdOf(ctx),
        })
        Effect.runSync(options.audit.record(record))
      } catch (error) {
        options.logger.error({ error: error instanceof Error ? { name: error.name, message: error.message } : String(error) }, "audit record failed (a bug)")
      }
    })
    return next()
  }
}
