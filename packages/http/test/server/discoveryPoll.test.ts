import { once } from "node:events"
import { request, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Router } from "@koa/router"
import fc from "fast-check"
import Koa from "koa"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mountMcpProxy, type McpEndpointHandlers } from "../../src/mcpProxy/mountMcpProxy.ts"
import { fallback } from "../../src/routes/fallback.ts"
import { ROUTES } from "../../src/routes/routeTable.ts"
import { isDiscoveryPoll } from "../../src/server/discoveryPoll.ts"
import { McpEndpointsFirst } from "../../src/server/McpEndpointsFirst.ts"

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

const routed = (app: Koa): Koa => {
  const router = new Router()
  for (const route of ROUTES) router.register(route.path, [route.method], (ctx) => void (ctx.body = `route ${route.id}`), { name: route.id })
  mountMcpProxy(router, proxy)
  app.use(router.routes())
  app.use(fallback)
  return app
}

const listening = async (app: Koa): Promise<{ server: Server; port: number }> => {
  const server = app.listen(0, "127.0.0.1")
  await once(server, "listening")
  return { server, port: (server.address() as AddressInfo).port }
}

const answer = (port: number, method: string, target: string): Promise<string> =>
  new Promise((resolve) => {
    try {
      const req = request({ host: "127.0.0.1", port, method, path: target, headers: { connection: "close" } }, (res) => {
        let body = ""
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => (body += chunk))
        res.on("end", () => resolve(`${res.statusCode} ${body}`))
      })
      req.on("error", () => resolve("refused"))
      req.end()
    } catch {
      resolve("refused")
    }
  })

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
    split = await listening(routed(new McpEndpointsFirst(routed(new Koa()), discovery)))
    plain = await listening(routed(new Koa()))
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
