import type { Server } from "node:http"
import fc from "fast-check"
import Koa from "koa"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { serveMcpEndpoints, type McpEndpointHandlers } from "../../src/mcpProxy/mountMcpProxy.ts"
import { McpEndpointsFirst } from "../../src/server/McpEndpointsFirst.ts"
import { mcpEndpointRequestOf } from "../../src/server/mcpEndpointRequest.ts"
import { answer, listening, routed } from "../support/routerAgainst.ts"

// The MCP endpoints' own chain must take exactly the requests the router hands the proxy, with the
// same server name: checked against the router itself, over real HTTP (a client would send these).

/** Stands in for the proxy: answers which way a request came and what it was given. */
const labelled = (label: string): McpEndpointHandlers => ({
  handle: async (ctx, name) => {
    ctx.body = `${label} server ${JSON.stringify(name)}`
  },
  handleAgentEndpoint: async (ctx) => {
    ctx.body = `${label} agent`
  },
})

const segment = fc
  .array(fc.constantFrom("a", "B", "x-1", ".", "..", "%2F", "%41", "%", "%E0%A4%A", "%zz", ":", "@", "~", "#", "?", "%20", "é", "\u00a0"), {
    maxLength: 4,
  })
  .map((parts) => parts.join(""))
const arbTarget = fc
  .tuple(
    fc.constantFrom("/mcp-servers/", "/MCP-Servers/", "/mcp", "/MCP", "/Mcp", "/", "//", "/tools/", "/mcp/groups/"),
    segment,
    fc.constantFrom("", "/mcp", "/MCP", "/Mcp", "/mcpx", "/mcp/more", "/logs"),
    fc.constantFrom("", "/", "//"),
    fc.constantFrom("", "?a=1", "?x#y", "?"),
  )
  .map((parts) => parts.join(""))
const arbMethod = fc.constantFrom("GET", "POST", "DELETE", "HEAD", "PUT", "OPTIONS")

describe("the MCP endpoints' own chain", () => {
  let split: { server: Server; port: number }
  let plain: { server: Server; port: number }

  beforeAll(async () => {
    const endpoints = new Koa()
    endpoints.use(serveMcpEndpoints(labelled("own chain")))
    split = await listening(routed(new McpEndpointsFirst(endpoints), labelled("router")))
    plain = await listening(routed(new Koa(), labelled("router")))
  })

  afterAll(() => {
    for (const { server } of [split, plain]) {
      server.closeAllConnections()
      server.close()
    }
  })

  it("takes exactly the requests the router gives the proxy when their path is plain, with the same server name", async () => {
    await fc.assert(
      fc.asyncProperty(arbMethod, arbTarget, async (method, target) => {
        const [viaSplit, viaRouter] = await Promise.all([answer(split.port, method, target), answer(plain.port, method, target)])
        const taken = mcpEndpointRequestOf(method, target) !== null

        expect(viaSplit).toBe(taken ? viaRouter.replace("router", "own chain") : viaRouter)
        // What the router gives the proxy with a plain path and a method the endpoints serve, the own chain takes.
        const plainPath = !/[\t\n\f\r #\u00a0\ufeff]/.test(target)
        if (viaRouter.startsWith("200 router") && plainPath && ["GET", "POST", "DELETE"].includes(method)) expect(taken).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it("takes the spellings of the endpoints the router serves", () => {
    expect(mcpEndpointRequestOf("POST", "/mcp")).toEqual({ route: "/mcp" })
    expect(mcpEndpointRequestOf("GET", "/MCP/?x=1")).toEqual({ route: "/mcp" })
    expect(mcpEndpointRequestOf("DELETE", "/MCP-Servers/a%2Fb/Mcp/")).toEqual({ route: "/mcp-servers/:name/mcp", name: "a/b" })
    expect(mcpEndpointRequestOf("POST", "/mcp-servers/%zz/mcp")).toEqual({ route: "/mcp-servers/:name/mcp", name: "%zz" })
  })

  it("leaves HEAD, other methods, other routes and paths Koa could read otherwise to the full chain", () => {
    expect(mcpEndpointRequestOf("HEAD", "/mcp")).toBeNull()
    expect(mcpEndpointRequestOf("PUT", "/mcp")).toBeNull()
    expect(mcpEndpointRequestOf("POST", "/mcp/groups")).toBeNull()
    expect(mcpEndpointRequestOf("POST", "/mcp-servers/a#b/mcp")).toBeNull()
    expect(mcpEndpointRequestOf("POST", "http://host/mcp")).toBeNull()
  })
})
