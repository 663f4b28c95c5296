import { createHash, timingSafeEqual } from "node:crypto"
import * as Redacted from "effect/Redacted"
import type { Middleware } from "koa"

export const UNAUTHORIZED_BODY = { error: "Unauthorized: Missing or invalid token format" } as const
export const FORBIDDEN_BODY = { error: "Forbidden: Invalid token" } as const

const BEARER = /^Bearer +(\S+) *$/i

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/**
 * Whether `presented` is one of `accepted`, in time that depends on neither: both sides are hashed
 * to equal lengths and every accepted token is compared.
 */
export const makeTokenCheck = (accepted: ReadonlyArray<Redacted.Redacted<string>>): ((presented: string) => boolean) => {
  const digests = accepted.map((t) => digest(Redacted.value(t)))
  return (presented) => {
    const candidate = digest(presented)
    let matched = false
    for (const d of digests) matched = timingSafeEqual(candidate, d) || matched
    return matched
  }
}

/** Requires `Authorization: Bearer <token>` on every request that `isPublic` does not let through. */
export const bearerAuth = (options: {
  readonly tokens: ReadonlyArray<Redacted.Redacted<string>>
  readonly isPublic: (method: string, path: string) => boolean
}): Middleware => {
  const check = makeTokenCheck(options.tokens)
  return async (ctx, next) => {
    if (options.isPublic(ctx.method, ctx.path)) return next()
    const match = BEARER.exec(ctx.get("authorization"))
    if (match?.[1] === undefined) {
      ctx.status = 401
      ctx.set("WWW-Authenticate", "Bearer")
      ctx.body = UNAUTHORIZED_BODY
      return
    }
    if (!check(match[1])) {
      ctx.status = 403
      ctx.body = FORBIDDEN_BODY
      return
    }
    return next()
  }
}
