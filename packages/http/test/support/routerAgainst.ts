import { once } from "node:events"
import { request, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Router } from "@koa/router"
import type Koa from "koa"
import { mountMcpProxy, type McpEndpointHandlers } from "../../src/mcpProxy/mountMcpProxy.ts"
import { fallback } from "../../src/routes/fallback.ts"
import { ROUTES } from "../../src/routes/routeTable.ts"

// What the tests of the short chains (MCP endpoints, discovery polls) compare them against: the
// DTMA's router, over real HTTP.

/** `app` with the DTMA's routes (every management route answers its id), the MCP routes of `proxy` and the fallback. */
export const routed = (app: Koa, proxy: McpEndpointHandlers): Koa => {
  const router = new Router()
  for (const route of ROUTES) router.register(route.path, [route.method], (ctx) => void (ctx.body = `route ${route.id}`), { name: route.id })
  mountMcpProxy(router, proxy)
  app.use(router.routes())
  app.use(fallback)
  return app
}

export const listening = async (app: Koa): Promise<{ server: Server; port: number }> => {
  const server = app.listen(0, "127.0.0.1")
  await once(server, "listening")
  return { server, port: (server.address() as AddressInfo).port }
}

/** Status and body of `method` on `target`, sent as is; "refused" when the client or the server's parser refuses it. */
export const answer = (port: number, method: string, target: string): Promise<string> =>
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
