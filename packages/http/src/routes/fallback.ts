import type { Middleware } from "koa"

interface MatchedLayer {
  readonly methods: ReadonlyArray<string>
}

/**
 * Runs when no route answered: a known path with another method is a 405 (with `Allow`), anything
 * else, removed legacy routes included, a 404. Both JSON.
 */
export const fallback: Middleware = (ctx) => {
  const matched: ReadonlyArray<MatchedLayer> = (ctx as unknown as { matched?: ReadonlyArray<MatchedLayer> }).matched ?? []
  const allowed = [...new Set(matched.flatMap((layer) => layer.methods))]
  if (allowed.length > 0) {
    ctx.status = 405
    ctx.set("Allow", allowed.join(", "))
    ctx.body = { success: false, error: `Method not allowed: ${ctx.method} ${ctx.path}`, code: "method_not_allowed" }
    return
  }
  ctx.status = 404
  ctx.body = { success: false, error: `Not found: ${ctx.method} ${ctx.path}` }
}
