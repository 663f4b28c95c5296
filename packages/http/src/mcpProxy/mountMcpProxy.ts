import type { Router } from "@koa/router"
import { makeMcpProxy, type McpProxy, type McpProxyDeps } from "./McpProxy.ts"

export const MCP_PROXY_PATH = "/mcp-servers/:name/mcp"

/** Registers the proxied MCP endpoint (POST, GET, DELETE) on `router`; bearer auth applies as everywhere. */
export const mountMcpProxy = (router: Router, deps: McpProxyDeps): McpProxy => {
  const proxy = makeMcpProxy(deps)
  router.register(MCP_PROXY_PATH, ["GET", "POST", "DELETE"], (ctx) => proxy.handle(ctx, String(ctx.params["name"])), { name: "mcpProxy" })
  return proxy
}
