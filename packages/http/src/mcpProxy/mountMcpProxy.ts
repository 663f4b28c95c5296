import type { Router } from "@koa/router"
import type { Middleware } from "koa"
import { mcpEndpointRequestOf } from "../server/mcpEndpointRequest.ts"
import type { McpProxy } from "./McpProxy.ts"

/** What serving the endpoints needs of the proxy. */
export type McpEndpointHandlers = Pick<McpProxy, "handle" | "handleAgentEndpoint">

export const MCP_PROXY_PATH = "/mcp-servers/:name/mcp"
export const AGENT_ENDPOINT_PATH = "/mcp"

/** Registers the MCP endpoints (POST, GET, DELETE) of `proxy` on `router`: each server's, and the agent endpoint; bearer auth applies as everywhere. */
export const mountMcpProxy = <P extends McpEndpointHandlers>(router: Router, proxy: P): P => {
  router.register(MCP_PROXY_PATH, ["GET", "POST", "DELETE"], (ctx) => proxy.handle(ctx, String(ctx.params["name"])), { name: "mcpProxy" })
  router.register(AGENT_ENDPOINT_PATH, ["GET", "POST", "DELETE"], (ctx) => proxy.handleAgentEndpoint(ctx), { name: "agentEndpoint" })
  return proxy
}

/**
 * The last middleware of the MCP endpoints' own chain (`McpEndpointsFirst`): hands each request to
 * `proxy` as the routes `mountMcpProxy` registers would, without a router. Only requests that
 * `mcpEndpointRequestOf` recognises reach it; anything else is a defect.
 */
export const serveMcpEndpoints =
  (proxy: McpEndpointHandlers): Middleware =>
  (ctx) => {
    const endpoint = mcpEndpointRequestOf(ctx.method, ctx.url)
    if (endpoint === null) throw new Error(`The MCP endpoints' chain was given a request for no MCP endpoint (${ctx.method} ${ctx.path})`)
    return endpoint.route === AGENT_ENDPOINT_PATH ? proxy.handleAgentEndpoint(ctx) : proxy.handle(ctx, endpoint.name)
  }
