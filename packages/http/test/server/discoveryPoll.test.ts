import type { Server } from "node:http"
import fc from "fast-check"
import Koa from "koa"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { McpEndpointHandlers } from "../../src/mcpProxy/mountMcpProxy.ts"
import { isDiscoveryPoll } from "../../src/server/discoveryPoll.ts"
import { McpEndpointsFirst } from "../../src/server/McpEndpointsFirst.ts"
import { answer, listening, routed } from "../support/routerAgainst.ts"

// Discovery polls' own chain must take exactly the requests the router hands the discovery route:
// checked against the router itself, over real HTTP.

const proxy: McpEndpointHandlers = {
  handle: async (ctx, name) => {
    ctx.body = `proxy server ${JSON.stringify(name)}`
  },
  handleAgentEndpoint: async (ctx) => {
    ctx.body = "proxy agent"
  },
}

const arbTarget = fc
  .tuple(
    fc.constantFrom("/mcp-servers/", "/MCP-Servers/", "/mcp-servers//", "/", "//", "/tools/"),
    fc.constantFrom("discovery", "Discovery", "DISCOVERY", "discover", "discoveryx", "discovery/mcp", "%64iscovery", "disc%20overy", "discovery#x", "a"),
    fc.constantFrom("", "/", "//", "/x"),
    fc.constantFrom("", "?a=1", "?x#y", "?", "?/mcp-servers/discovery"),
  )
  .map((parts) => parts.join(""))
const arbMethod = fc.constantFrom("GET", "POST", "DELETE", "HEAD", "PUT", "OPTIONS")

describe("discovery polls' own chain", () => {
  let split: { server: Server; port: number }
  let plain: { server: Server; port: number }

  beforeAll(async () => {
    const discovery = new Koa()
    discovery.use((ctx) => void (ctx.body = "own chain discovery"))
    split = await listening(routed(new McpEndpointsFirst(routed(new Koa(), proxy), discovery), proxy))
    plain = await listening(routed(new Koa(), proxy))
  })

  afterAll(() => {
    for (const { server } of [split, plain]) {
      server.closeAllConnections()
      server.close()
    }
  })

  it("takes exactly the GETs the router gives the discovery route when their path is plain", async () => {
    await fc.assert(
      fc.asyncProperty(arbMethod, arbTarget, async (method, target) => {
        const [viaSplit, viaRouter] = await Promise.all([answer(split.port, method, target), answer(plain.port, method, target)])
        const taken = isDiscoveryPoll(method, target)

        expect(viaSplit).toBe(taken ? "200 own chain discovery" : viaRouter)
        if (taken) expect(viaRouter).toBe("200 route mcpDiscovery")
        const plainPath = !/[\t\n\f\r #\u00a0\ufeff]/.test(target)
        if (viaRouter === "200 route mcpDiscovery" && plainPath && method === "GET") expect(taken).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it("takes the spellings the router serves and leaves HEAD and other methods to the full chain", () => {
    expect(isDiscoveryPoll("GET", "/mcp-servers/discovery")).toBe(true)
    expect(isDiscoveryPoll("GET", "/MCP-Servers/Discovery/?x=1")).toBe(true)
    expect(isDiscoveryPoll("HEAD", "/mcp-servers/discovery")).toBe(false)
    expect(isDiscoveryPoll("POST", "/mcp-servers/discovery")).toBe(false)
    expect(isDiscoveryPoll("GET", "/mcp-servers/discovery#x")).toBe(false)
    expect(isDiscoveryPoll("GET", "http://host/mcp-servers/discovery")).toBe(false)
  })
})
