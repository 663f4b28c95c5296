import type { Middleware } from "koa"
import type { Logger } from "../composition/logger.ts"
import { AGENT_ENDPOINT_PATH, MCP_PROXY_PATH } from "../mcpProxy/mountMcpProxy.ts"
import { DISCOVERY_PATH } from "../routes/mcpRoutes.ts"
import type { HttpMetrics } from "./metrics.ts"

/**
 * The routes asked many times a second, whose successful requests log at debug, not info: the MCP
 * endpoints' (a server's own and the agent endpoint `/mcp`: one request per tool call) and the
 * discovery's (polled; a poll's audit record stays). Route patterns as registered, which the router
 * reports for every path it serves them at (any letter case, a final slash, a percent-encoded name).
 */
const FREQUENT_ROUTES: ReadonlySet<string> = new Set([MCP_PROXY_PATH, AGENT_ENDPOINT_PATH, DISCOVERY_PATH])

/**
 * One log line and one metrics sample per request: method, route pattern, status and duration.
 * Headers, bodies and raw paths stay out (a path may carry an instance name, a header a token).
 * Successful proxied MCP calls and discovery polls log at debug: at info they cost a call about a
 * fifth of its CPU, a 304 poll about a tenth.
 */
export const observeRequests =
  (options: {
    readonly logger: Logger
    readonly metrics: HttpMetrics
    /** The route pattern a request maps to, whether or not it got that far. */
    readonly routeOf: (method: string, path: string) => string
  }): Middleware =>
  async (ctx, next) => {
    const started = process.hrtime.bigint()
    try {
      await next()
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const route = options.routeOf(ctx.method, ctx.path)
      options.metrics.observe({ method: ctx.method, route, status: ctx.status, seconds })
      const fields = { method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 1e6) / 1e3 }
      if (ctx.status < 400 && FREQUENT_ROUTES.has(route)) options.logger.debug(fields, "request")
      else options.logger.info(fields, "request")
    }
  }
