import { promisify } from "node:util"
import { gzip } from "node:zlib"
import type { RouterMiddleware } from "@koa/router"
import * as Effect from "effect/Effect"
import { discoveryEntryOf, ifNoneMatchHits, makeDiscoveryTags, NO_OAUTH } from "../responses/mcpServerShapes.ts"
import { oauthOfAll, originOf, type HandlerDeps } from "./HandlerDeps.ts"

/** How long a built answer is served again while its tag holds: its timestamps are at most this old. */
const REUSE_MS = 1_000

const gzipped = promisify(gzip)

/** A built answer: its body, and the body gzipped, made when first asked for (off the event loop). */
interface Built {
  readonly tag: string
  readonly at: number
  readonly body: Buffer
  gzip: Promise<Buffer | null> | null
}

/**
 * `GET /mcp-servers/discovery`: what every server offers, from memory (no server is asked during
 * the request). An `If-None-Match` naming the current tag gets a bodiless 304. The serialised and
 * encoded body (hundreds of KB with many servers) is built once per tag and reused for up to a
 * second, so pollers do not each pay for it; the tag is hashed again only when what it covers changed.
 * A caller that accepts gzip (the backend's `fetch` does) gets it gzipped, once per build too: the
 * JSON of many servers' tools shrinks to a tenth or less, and writing it is most of a poll's cost.
 */
export const discoveryHandler = (deps: HandlerDeps): RouterMiddleware => {
  let built: Built | null = null
  const discoveryTagOf = makeDiscoveryTags()
  return async (ctx) => {
    const views = deps.mcpServers.list()
    const oauth = views.some((v) => v.oauth !== null) ? await Effect.runPromise(oauthOfAll(deps.mcpServers, views)) : NO_OAUTH
    const origin = originOf(ctx, deps.config)
    const tag = discoveryTagOf(views, origin, oauth)
    ctx.set("ETag", tag)
    ctx.set("Cache-Control", "no-cache")
    ctx.vary("Accept-Encoding")
    const asked = ctx.get("if-none-match")
    if (asked !== "" && ifNoneMatchHits(asked, tag)) {
      ctx.status = 304
      return
    }
    ctx.status = 200
    ctx.type = "application/json"
    const now = deps.now()
    if (built === null || built.tag !== tag || Math.abs(now.getTime() - built.at) > REUSE_MS) {
      const data = { generatedAt: now.toISOString(), servers: views.map((v) => discoveryEntryOf(v, origin, oauth.get(v.instanceName))) }
      // Encoded once too: a string body would be encoded again for every poller, hundreds of KB each.
      built = { tag, at: now.getTime(), body: Buffer.from(JSON.stringify({ success: true, data })), gzip: null }
    }
    const answer = built
    if (ctx.acceptsEncodings("gzip", "identity") === "gzip") {
      answer.gzip ??= gzipped(answer.body).catch(() => null)
      const body = await answer.gzip
      if (body !== null) {
        ctx.set("Content-Encoding", "gzip")
        ctx.body = body
        return
      }
    }
    ctx.body = answer.body
  }
}
