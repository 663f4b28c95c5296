import { SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api"
import type { Middleware } from "koa"
import { requestStateOf } from "./requestState.ts"
import { contextFrom, traceIdOf } from "./traceContext.ts"

// The methods the HTTP semantic conventions name; anything else is `_OTHER`.
const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"])

const statusOfThrown = (error: unknown): number => {
  const status = typeof error === "object" && error !== null && "status" in error ? error.status : undefined
  return typeof status === "number" && status >= 400 && status < 600 ? status : 500
}

/**
 * One server span per request, continuing the caller's W3C `traceparent`/`tracestate` header: named
 * `<METHOD> <route pattern>`, with the OpenTelemetry HTTP attributes (`http.request.method`,
 * `url.scheme`, `url.path` — never the query —, `http.route`, `http.response.status_code`). No
 * header and no body goes into a span. A status of 500 or more is an error (`error.type` the
 * status); a 4xx is the caller's, not an error of the span. Leaves the trace id and the span's
 * context on `ctx.state` (`RequestState`). With tracing off it only reads the caller's trace id.
 */
export const traceRequests =
  (options: {
    readonly tracer: Tracer
    /** The route pattern a request maps to; null when it matches none. */
    readonly routeOf: (method: string, path: string) => string | null
  }): Middleware =>
  async (ctx, next) => {
    const parent = contextFrom(ctx.headers)
    const known = KNOWN_METHODS.has(ctx.method)
    const span = options.tracer.startSpan(known ? ctx.method : "HTTP", { kind: SpanKind.SERVER }, parent)
    const state = requestStateOf(ctx)
    state.traceContext = trace.setSpan(parent, span)
    const traceId = traceIdOf(span.spanContext())
    if (traceId !== undefined) state.traceId = traceId
    if (!span.isRecording()) return next()
    span.setAttributes({
      "http.request.method": known ? ctx.method : "_OTHER",
      ...(known ? {} : { "http.request.method_original": ctx.method }),
      "url.scheme": ctx.protocol,
      "url.path": ctx.path,
    })
    let status: number | undefined
    try {
      await next()
    } catch (error) {
      status = statusOfThrown(error)
      throw error
    } finally {
      status ??= ctx.status
      const route = options.routeOf(ctx.method, ctx.path)
      if (route !== null) {
        span.setAttribute("http.route", route)
        if (known) span.updateName(`${ctx.method} ${route}`)
      }
      span.setAttribute("http.response.status_code", status)
      if (status >= 500) {
        span.setAttribute("error.type", String(status))
        span.setStatus({ code: SpanStatusCode.ERROR })
      }
      span.end()
    }
  }
