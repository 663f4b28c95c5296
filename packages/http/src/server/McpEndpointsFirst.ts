import Koa from "koa"
import { isDiscoveryPoll } from "./discoveryPoll.ts"
import { mcpEndpointRequestOf } from "./mcpEndpointRequest.ts"

/**
 * A Koa app that hands the requests for the MCP endpoints (`mcpEndpointRequestOf`) to `endpoints`,
 * a second app of only the middleware those requests need, the discovery polls (`isDiscoveryPoll`)
 * to `discovery` when given, and serves every other request with its own. An MCP call is the DTMA's
 * most frequent request by far, a discovery poll the next: they skip the management routes' router
 * (matched several times a request) and their fallback. Everything reaches it through `callback()`
 * (`listen()` included), the tests as much as `main`.
 */
export class McpEndpointsFirst extends Koa {
  readonly #endpoints: Koa
  readonly #discovery: Koa | null

  constructor(endpoints: Koa, discovery: Koa | null = null) {
    super()
    this.#endpoints = endpoints
    this.#discovery = discovery
  }

  override callback(): ReturnType<Koa["callback"]> {
    const rest = super.callback()
    const endpoints = this.#endpoints.callback()
    const discovery = this.#discovery?.callback() ?? null
    return (req, res) => {
      if (mcpEndpointRequestOf(req.method, req.url) !== null) return endpoints(req, res)
      if (discovery !== null && isDiscoveryPoll(req.method, req.url)) return discovery(req, res)
      return rest(req, res)
    }
  }
}
