import type { RouterMiddleware } from "@koa/router"
import { Effect } from "effect"
import { discoveryEntryOf, discoveryTagOf, ifNoneMatchHits } from "../mcpServerShapes.ts"
import { oauthOfAll, originOf, type HandlerDeps } from "./HandlerDeps.ts"

/**
 * `GET /mcp-servers/discovery`: what every server offers, from memory (no server is asked during
 * the request). An `If-None-Match` naming the current tag gets a bodiless 304.
 */
export const discoveryHandler =
  (deps: HandlerDeps): RouterMiddleware =>
  async (ctx) => {
    const views = deps.mcpServers.list()
    const oauth = await Effect.runPromise(oauthOfAll(deps.mcpServers, views))
    const origin = originOf(ctx, deps.config)
    const tag = discoveryTagOf(views, origin, oauth)
    ctx.set("ETag", tag)
    ctx.set("Cache-Control", "no-cache")
    const asked = ctx.get("if-none-match")
    if (asked !== "" && ifNoneMatchHits(asked, tag)) {
      ctx.status = 304
      return
    }
    ctx.status = 200
    ctx.body = { success: true, data: { generatedAt: deps.now().toISOString(), servers: views.map((v) => discoveryEntryOf(v, origin, oauth.get(v.instanceName))) } }
  }
