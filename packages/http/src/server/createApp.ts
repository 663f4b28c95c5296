import { Router, type RouterMiddleware } from "@koa/router"
import { AgentAccess, CredentialSource, HostMetrics, makeMcpGroups } from "@dtma/domain"
import type { Container } from "inversify"
import Koa from "koa"
import { authenticate } from "./auth.ts"
import { makeDrainGate, registerShutdownHooks } from "./drainGate.ts"
import { errorBoundary } from "./errorBoundary.ts"
import { jsonBody } from "./jsonBody.ts"
import { makeMcpProxy } from "../mcpProxy/McpProxy.ts"
import type { ProxyTimers } from "../mcpProxy/timers.ts"
import { mountMcpProxy } from "../mcpProxy/mountMcpProxy.ts"
import { makeHttpMetrics } from "./metrics.ts"
import { observeRequests } from "./observeRequests.ts"
import { originGuard } from "./originGuard.ts"
import { makeAgentRateLimits, rateLimitAgents } from "./rateLimitAgents.ts"
import { openApiHandler } from "../responses/openapi.ts"
import { fallback } from "../routes/fallback.ts"
import type { HandlerDeps } from "../routes/HandlerDeps.ts"
import { isPublicRequest, ROUTES, type RouteId } from "../routes/routeTable.ts"
import { discoveryHandler } from "../routes/discoveryHandler.ts"
import { mcpGroupHandlers } from "../routes/mcpGroupHandlers.ts"
import { mcpServerHandlers } from "../routes/mcpServerHandlers.ts"
import { statusHandler } from "../routes/statusHandler.ts"
import { toolHandlers } from "../routes/toolHandlers.ts"
import { TOKEN_LEEWAY_SECONDS } from "../composition/agentAccess.ts"
import { bound, Tokens } from "../composition/tokens.ts"

/** The Koa application over the use cases bound in `container`. */
export const createApp = (container: Container, options: { readonly now?: () => Date; readonly proxyTimers?: ProxyTimers } = {}): Koa => {
  const deps: HandlerDeps = {
    instances: bound(container, Tokens.Instances),
    mcpServers: bound(container, Tokens.McpServers),
    hostMetrics: bound(container, HostMetrics),
    credentialSource: bound(container, CredentialSource),
    config: bound(container, Tokens.Config),
    logger: bound(container, Tokens.Logger),
    now: options.now ?? (() => new Date()),
  }
  const { requestTimeoutMs, sessionIdleTimeoutMs: idleTimeoutMs, maxSessionsPerServer, maxSessions } = deps.config.mcp
  const { access } = deps.config
  const agentAccess = bound(container, AgentAccess)
  const proxy = makeMcpProxy({
    mcpServers: deps.mcpServers,
    logger: deps.logger,
    access: agentAccess,
    resourceUrl: access.resourceUrl,
    settings: { requestTimeoutMs, idleTimeoutMs, maxSessionsPerServer, maxSessions, tokenLeewayMs: TOKEN_LEEWAY_SECONDS * 1000 },
    ...(options.proxyTimers === undefined ? {} : { timers: options.proxyTimers }),
  })
  const rateLimits = makeAgentRateLimits({ perSecond: access.ratePerSecond, burst: access.burst })
  const metrics = makeHttpMetrics({ instances: deps.instances, mcpSessions: proxy, agentRateLimits: rateLimits })
  const status = statusHandler(deps)
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
    mcpDiscovery: discoveryHandler(deps),
    ...mcpGroupHandlers(deps, makeMcpGroups(deps.mcpServers)),
  }
  const router = new Router()
  for (const route of ROUTES) router.register(route.path, [route.method], handlers[route.id], { name: route.id })
  mountMcpProxy(router, proxy)

  const routeOf = (method: string, path: string): string =>
    String(router.match(path, method).pathAndMethod.find((layer) => layer.methods.length > 0)?.path ?? "unmatched")

  const app = new Koa()
  const gate = makeDrainGate()
  registerShutdownHooks(app, { gate, closeSessions: () => proxy.close() })
  app.proxy = false
  app.on("error", (error: unknown) => deps.logger.error({ error: String(error) }, "koa error"))
  app.use(gate.middleware)
  app.use(observeRequests({ logger: deps.logger, metrics, routeOf }))
  app.use(errorBoundary(deps.logger))
  app.use(originGuard({ allowedOrigins: access.allowedOrigins, publicHost: access.publicHost }))
  app.use(
    authenticate({
      operatorKeys: deps.config.inboundTokens,
      access: agentAccess,
      resourceUrl: access.resourceUrl,
      isPublic: isPublicRequest,
    }),
  )
  app.use(jsonBody())
  app.use(rateLimitAgents(rateLimits))
  app.use(router.routes())
  app.use(fallback)
  return app
}
