import { Router, type RouterMiddleware } from "@koa/router"
import type { Tracer } from "@opentelemetry/api"
import { AgentAccess, AuditLog, CredentialSource, HostMetrics, makeMcpGroups } from "@dtma/domain"
import type { Container } from "inversify"
import Koa from "koa"
import { auditRequests } from "./auditRequests.ts"
import { authenticate } from "./auth.ts"
import { makeDrainGate, registerShutdownHooks } from "./drainGate.ts"
import { errorBoundary } from "./errorBoundary.ts"
import { jsonBody } from "./jsonBody.ts"
import { makeMcpProxy } from "../mcpProxy/McpProxy.ts"
import { McpEndpointsFirst } from "./McpEndpointsFirst.ts"
import { mcpEndpointRequestOf } from "./mcpEndpointRequest.ts"
import type { ProxyTimers } from "../mcpProxy/timers.ts"
import { mountMcpProxy, serveMcpEndpoints } from "../mcpProxy/mountMcpProxy.ts"
import { makeHttpMetrics } from "./metrics.ts"
import { observeRequests } from "./observeRequests.ts"
import { originGuard } from "./originGuard.ts"
import { makeAgentRateLimits, rateLimitAgents } from "./rateLimitAgents.ts"
import { globalTracer } from "./traceContext.ts"
import { traceRequests } from "./traceRequests.ts"
import { openApiHandler } from "../responses/openapi.ts"
import { fallback } from "../routes/fallback.ts"
import { DISCOVERY_PATH } from "../routes/mcpRoutes.ts"
import type { HandlerDeps } from "../routes/HandlerDeps.ts"
import { isPublicRequest, ROUTES, type RouteId } from "../routes/routeTable.ts"
import { agentAccessHandlers } from "../routes/agentAccessHandlers.ts"
import { auditHandler } from "../routes/auditHandler.ts"
import { discoveryHandler } from "../routes/discoveryHandler.ts"
import { mcpGroupHandlers } from "../routes/mcpGroupHandlers.ts"
import { mcpServerHandlers } from "../routes/mcpServerHandlers.ts"
import { statusHandler } from "../routes/statusHandler.ts"
import { toolHandlers } from "../routes/toolHandlers.ts"
import { TOKEN_LEEWAY_SECONDS } from "../composition/agentAccess.ts"
import { bound, Tokens } from "../composition/tokens.ts"
import { auditTrailOf } from "../composition/auditTrail.ts"
import { auditMcpEndpoints } from "./auditMcpEndpoints.ts"

export interface AppOptions {
  readonly now?: () => Date
  /** Starts the request spans; default: the global tracer (the API's no-op one unless `startTracing` registered a provider). */
  readonly tracer?: Tracer
  /** The MCP proxy's clock for token expiry; default: real time. */
  readonly proxyTimers?: ProxyTimers
}

/** The Koa application over the use cases bound in `container`. */
export const createApp = (container: Container, options: AppOptions = {}): Koa => {
  // Every request recorded goes through here: counted by outcome (for /metrics), then kept.
  const audit = auditTrailOf(bound(container, AuditLog), container.isBound(Tokens.AuditDelivery) ? bound(container, Tokens.AuditDelivery) : null)
  const deps: HandlerDeps = {
    instances: bound(container, Tokens.Instances),
    mcpServers: bound(container, Tokens.McpServers),
    hostMetrics: bound(container, HostMetrics),
    credentialSource: bound(container, CredentialSource),
    auditLog: audit,
    config: bound(container, Tokens.Config),
    logger: bound(container, Tokens.Logger),
    now: options.now ?? (() => new Date()),
  }
  const {
    requestTimeoutMs,
    serverRequestTimeoutMs,
    mrtrTtlMs,
    sessionIdleTimeoutMs: idleTimeoutMs,
    maxSessionsPerServer,
    maxSessions,
    listPageSize,
  } = deps.config.mcp
  const tracer = options.tracer ?? globalTracer()
  const { access } = deps.config
  const agentAccess = bound(container, AgentAccess)
  const proxy = makeMcpProxy({
    mcpServers: deps.mcpServers,
    logger: deps.logger,
    tracer,
    access: agentAccess,
    resourceUrl: access.resourceUrl,
    settings: {
      requestTimeoutMs,
      serverRequestTimeoutMs,
      mrtrTtlMs,
      idleTimeoutMs,
      maxSessionsPerServer,
      maxSessions,
      listPageSize,
      tokenLeewayMs: TOKEN_LEEWAY_SECONDS * 1000,
    },
    ...(options.proxyTimers === undefined ? {} : { timers: options.proxyTimers }),
  })
  const rateLimits = makeAgentRateLimits({ perSecond: access.ratePerSecond, burst: access.burst })
  const metrics = makeHttpMetrics({ instances: deps.instances, mcpSessions: proxy, agentRateLimits: rateLimits, audit })
  const status = statusHandler(deps)
  const discovery = discoveryHandler(deps)
  const handlers: Record<RouteId, RouterMiddleware> = {
    health: (ctx) => {
      ctx.type = "text/plain"
      ctx.body = "OK"
    },
    status,
    toolsStatus: status,
    openapi: openApiHandler(),
    metrics: metrics.handler,
    ...toolHandlers(deps),
    ...mcpServerHandlers(deps),
    mcpDiscovery: discovery,
    ...mcpGroupHandlers(deps, makeMcpGroups(deps.mcpServers)),
    ...agentAccessHandlers(deps, agentAccess),
    audit: auditHandler(deps),
  }
  const router = new Router()
  for (const route of ROUTES) router.register(route.path, [route.method], handlers[route.id], { name: route.id })
  mountMcpProxy(router, proxy)

  const matchRoute = (method: string, path: string) => {
    const layer = router.match(path, method).pathAndMethod.find((l) => l.methods.length > 0)
    return layer === undefined ? null : { route: String(layer.path), params: layer.params(path, layer.captures(path)) }
  }
  const matchedRoute = (method: string, path: string): string | null => matchRoute(method, path)?.route ?? null
  const routeOf = (method: string, path: string): string => matchedRoute(method, path) ?? "unmatched"

  const gate = makeDrainGate()
  const logError = (error: unknown) => deps.logger.error({ error: String(error) }, "koa error")
  // Built once, shared by both chains: the gate counts every call, the rate limits every request.
  const guardOrigin = originGuard({ allowedOrigins: access.allowedOrigins, publicHost: access.publicHost })
  const auth = authenticate({ operatorKeys: deps.config.inboundTokens, access: agentAccess, resourceUrl: access.resourceUrl, isPublic: isPublicRequest })
  const body = jsonBody()
  const limit = rateLimitAgents(rateLimits)
  const boundary = errorBoundary(deps.logger)
  const auditMcp = auditMcpEndpoints({ audit, logger: deps.logger })

  // The MCP endpoints' own chain: what the full one below runs for them, without the router.
  const endpoints = new Koa()
  endpoints.proxy = false
  endpoints.on("error", logError)
  const endpointRouteOf = (method: string, path: string) => mcpEndpointRequestOf(method, path)?.route ?? matchedRoute(method, path)
  for (const middleware of [
    gate.middleware,
    traceRequests({ tracer, routeOf: endpointRouteOf }),
    observeRequests({ logger: deps.logger, metrics, routeOf: (method, path) => endpointRouteOf(method, path) ?? "unmatched" }),
    auditMcp,
    boundary,
    guardOrigin,
    auth,
    body,
    limit,
    serveMcpEndpoints(proxy),
  ])
    endpoints.use(middleware)

  // Discovery polls' own chain: the full one's middleware for them, without the router (their route is known).
  const discoveryPolls = new Koa()
  discoveryPolls.proxy = false
  discoveryPolls.on("error", logError)
  for (const middleware of [
    gate.middleware,
    traceRequests({ tracer, routeOf: () => DISCOVERY_PATH }),
    observeRequests({ logger: deps.logger, metrics, routeOf: () => DISCOVERY_PATH }),
    auditRequests({ audit, matchRoute: () => ({ route: DISCOVERY_PATH, params: {} }), isPublic: isPublicRequest, logger: deps.logger }),
    boundary,
    guardOrigin,
    auth,
    body,
    limit,
    discovery,
  ])
    discoveryPolls.use(middleware)

  const app = new McpEndpointsFirst(endpoints, discoveryPolls)
  registerShutdownHooks(app, { gate, closeSessions: () => proxy.close() })
  app.proxy = false
  app.on("error", logError)
  app.use(gate.middleware)
  app.use(traceRequests({ tracer, routeOf: matchedRoute }))
  app.use(observeRequests({ logger: deps.logger, metrics, routeOf }))
  app.use(
    auditRequests({
      audit,
      matchRoute: (method, path) => matchRoute(method, path) ?? { route: "unmatched", params: {} },
      isPublic: isPublicRequest,
      logger: deps.logger,
    }),
  )
  app.use(auditMcp)
  app.use(boundary)
  app.use(guardOrigin)
  app.use(auth)
  app.use(body)
  app.use(limit)
  app.use(router.routes())
  app.use(fallback)
  return app
}
