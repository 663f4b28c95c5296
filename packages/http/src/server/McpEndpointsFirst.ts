import Koa from "koa"
import { mcpEndpointRequestOf } from "./mcpEndpointRequest.ts"

/**
 * A Koa app that hands the requests for the MCP endpoints (`mcpEndpointRequestOf`) to `endpoints`,
 * a second app of only the middleware those requests need, and serves every other request with its
 * own. An MCP call is the DTMA's most frequent request by far: it skips the management routes'
 * router (matched twice a request), their audit and their fallback. Everything reaches it through
 * `callback()` (`listen()` included), the tests as much as `main`.
 */
export class McpEndpointsFirst extends Koa {
  readonly #endpoints: Koa

  constructor(endpoints: Koa) {
    super()
    this.#endpoints = endpoints
  }

  override callback(): ReturnType<Koa["callback"]> {
    const rest = super.callback()
    const endpoints = this.#endpoints.callback()
    return (req, res) => (mcpEndpointRequestOf(req.method, req.url) === null ? rest(req, res) : endpoints(req, res))
  }
}
