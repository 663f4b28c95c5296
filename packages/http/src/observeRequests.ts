import type { Middleware } from "koa"
import type { Logger } from "./logger.ts"
import type { HttpMetrics } from "./metrics.ts"

/**
 * One log line and one metrics sample per request: method, route pattern, status and duration.
 * Headers, bodies and raw paths stay out (a path may carry an instance name, a header a token).
 */
export const observeRequests = (options: {
  readonly logger: Logger
  readonly metrics: HttpMetrics
  /** The route pattern a request maps to, whether or not it got that far. */
  readonly routeOf: (method: string, path: string) => string
}): Middleware => async (ctx, next) => {
  const started = process.hrtime.bigint()
  try {
    await next()
  } finally {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const route = options.routeOf(ctx.method, ctx.path)
    options.metrics.observe({ method: ctx.method, route, status: ctx.status, seconds })
    options.logger.info({ method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 1e6) / 1e3 }, "request")
  }
}
