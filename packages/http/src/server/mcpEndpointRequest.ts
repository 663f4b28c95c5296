import { MCP_ENDPOINT_PATH } from "./mcpEndpoints.ts"

/** An MCP endpoint a request is for: the agent endpoint, or a server's (by the name its path gives, decoded as the router decodes it). */
export type McpEndpointRequest = { readonly route: "/mcp" } | { readonly route: "/mcp-servers/:name/mcp"; readonly name: string }

/** The methods the router serves on the MCP endpoints (HEAD, which it answers as GET, is left to it). */
const SERVED_METHODS = new Set(["GET", "POST", "DELETE"])

// Characters that make Koa's path (parseurl) fall back to `url.parse`, which may cut the path where this does not.
export const UNPLAIN = /[\t\n\f\r #\u00a0\ufeff]/

const SERVER_ENDPOINT = /^\/mcp-servers\/([^/]+)\/mcp\/?$/i

const AGENT_ENDPOINT: McpEndpointRequest = { route: "/mcp" }

/** `decodeURIComponent`, or the text as it is when it is not valid percent-encoding: what the router does with a parameter. */
const decodedOrRaw = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * The MCP endpoint a request of `method` on `url` (its request target, as Node gives it) is for,
 * when the router would hand it to the MCP proxy: GET, POST and DELETE on `/mcp` or
 * `/mcp-servers/:name/mcp`, in any letter case, with or without a final slash. Null for anything
 * else, and for a target whose path Koa could read otherwise (one with a space, a tab, a `#`, …):
 * those take the full middleware chain, which answers them as before.
 */
export const mcpEndpointRequestOf = (method: string | undefined, url: string | undefined): McpEndpointRequest | null => {
  if (method === undefined || url === undefined || !SERVED_METHODS.has(method) || url.charCodeAt(0) !== 0x2f || UNPLAIN.test(url)) return null
  const query = url.indexOf("?")
  const path = query === -1 ? url : url.slice(0, query)
  if (!MCP_ENDPOINT_PATH.test(path)) return null
  const name = SERVER_ENDPOINT.exec(path)?.[1]
  return name === undefined ? AGENT_ENDPOINT : { route: "/mcp-servers/:name/mcp", name: decodedOrRaw(name) }
}
