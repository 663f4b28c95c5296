import type { Router } from "@koa/router"
import type { McpProxy } from "./McpProxy.ts"

export const MCP_PROXY_PATH = "/mcp-servers/:name/mcp"

/** Registers the proxied MCP endpoint (POST, GET, DELETE) of `proxy` on `router`; bearer auth applies as everywhere. */
export const mountMcpProxy = (router: Router, proxy: McpProxy): McpProxy => {
  router.register(MCP_PROXY_PATH, ["GET", "POST", "DELETE"], (ctx) => proxy.handle(ctx, String(ctx.params["name"])), { name: "mcpProxy" })
  return proxy
}
