import type { Router } from "@koa/router"
import type { McpProxy } from "./McpProxy.ts"

export const MCP_PROXY_PATH = "/mcp-servers/:name/mcp"
export const AGENT_ENDPOINT_PATH = "/mcp"

/** Registers the MCP endpoints (POST, GET, DELETE) of `proxy` on `router`: each server's, and the agent endpoint; bearer auth applies as everywhere. */
export const mountMcpProxy = (router: Router, proxy: McpProxy): McpProxy => {
  router.register(MCP_PROXY_PATH, ["GET", "POST", "DELETE"], (ctx) => proxy.handle(ctx, String(ctx.params["name"])), { name: "mcpProxy" })
  router.register(AGENT_ENDPOINT_PATH, ["GET", "POST", "DELETE"], (ctx) => proxy.handleAgentEndpoint(ctx), { name: "agentEndpoint" })
  return proxy
}
