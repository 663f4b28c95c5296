import { createServer as createHttpServer, type Server } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import type Koa from "koa"
import type { TlsMaterial } from "./tlsSettings.ts"

/** Serves `app` on `port` and `host`: over HTTPS with `tls`, plain HTTP without. */
export const listen = (app: Koa, options: { readonly port: number; readonly host: string; readonly tls: TlsMaterial | null }): Server => {
  const server: Server =
    options.tls === null ? createHttpServer(app.callback()) : createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, app.callback())
  return server.listen(options.port, options.host)
}
