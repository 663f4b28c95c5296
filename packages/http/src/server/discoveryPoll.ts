import { UNPLAIN } from "./mcpEndpointRequest.ts"

/** The discovery route's path as the router matches it: in any letter case, with or without a final slash. */
const DISCOVERY_PATH = /^\/mcp-servers\/discovery\/?$/i

/**
 * Whether a request of `method` on `url` (its request target, as Node gives it) is a discovery
 * poll the router would hand to `GET /mcp-servers/discovery`. False for HEAD (the router answers it
 * as GET; left to it) and for a target whose path Koa could read otherwise (a space, a `#`, …):
 * those take the full middleware chain, which answers them as before.
 */
export const isDiscoveryPoll = (method: string | undefined, url: string | undefined): boolean => {
  if (method !== "GET" || url === undefined || url.charCodeAt(0) !== 0x2f || UNPLAIN.test(url)) return false
  const query = url.indexOf("?")
  return DISCOVERY_PATH.test(query === -1 ? url : url.slice(0, query))
}
