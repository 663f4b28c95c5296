import { hash, timingSafeEqual } from "node:crypto"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as Redacted from "effect/Redacted"
import type { AgentAccess, AgentIdentity, OperatorIdentity, TokenRefused } from "@dtma/domain"
import type { Context, Middleware } from "koa"
import { requestStateOf } from "./requestState.ts"
import { EdgeErrorCodes, isMcpEndpoint, refuseMcp } from "./mcpEndpoints.ts"

export const UNAUTHORIZED_BODY = { error: "Unauthorized: Missing or invalid token format" } as const
export const FORBIDDEN_BODY = { error: "Forbidden: Invalid token" } as const
export const AGENT_TOKEN_NOT_ALLOWED = {
  success: false,
  error: "Forbidden: an agent token may only call the MCP endpoints (/mcp and /mcp-servers/:name/mcp); this route needs an operator key",
  code: "agent_token_not_allowed",
} as const

const BEARER = /^Bearer +(\S+) *$/i

// One-shot (no Hash object): it runs on every request.
const digest = (text: string): Buffer => hash("sha256", text, "buffer")

/** A JSON Web Token's compact form: three base64url parts. An agent token has it; an operator key, as generated, does not. */
const JWT_SHAPE = /^[\w-]+\.[\w-]*\.[\w-]*$/

/**
 * The operator whose key `presented` is, or null when it is none of `accepted`, in time that depends
 * on neither: both sides are hashed to equal lengths and every accepted key is compared. The
 * operator (its fingerprint, the first 12 hex digits of the key's SHA-256: `operatorFingerprintOf`)
 * is worked out once per key, not per request. A token shaped as a JWT (an agent's) is no operator's
 * when no key has that shape, and is not hashed: its shape is all that decides it, which its sender
 * knows (what a timing tells is only that no key is shaped so).
 */
export const makeOperatorCheck = (accepted: ReadonlyArray<Redacted.Redacted<string>>): ((presented: string) => OperatorIdentity | null) => {
  const keys = accepted.map((t) => {
    const sha = digest(Redacted.value(t))
    const operator: OperatorIdentity = { kind: "operator", fingerprint: sha.toString("hex", 0, 6) }
    return { sha, operator }
  })
  const anyKeyShapedAsJwt = accepted.some((t) => JWT_SHAPE.test(Redacted.value(t)))
  return (presented) => {
    if (!anyKeyShapedAsJwt && JWT_SHAPE.test(presented)) return null
    const candidate = digest(presented)
    let matched: OperatorIdentity | null = null
    for (const key of keys) if (timingSafeEqual(candidate, key.sha)) matched = key.operator
    return matched
  }
}

/** Whether `presented` is one of `accepted`, in time that depends on neither (`makeOperatorCheck`). */
export const makeTokenCheck = (accepted: ReadonlyArray<Redacted.Redacted<string>>): ((presented: string) => boolean) => {
  const operatorOf = makeOperatorCheck(accepted)
  return (presented) => operatorOf(presented) !== null
}

/** Where the protected-resource metadata (RFC 9728) of the endpoint at `path` is: the well-known prefix before the resource's path. */
export const resourceMetadataUrl = (resourceUrl: string, path: string): string => {
  const resource = new URL(resourceUrl)
  const endpoint = path.length > 1 ? path.replace(/\/+$/, "") : ""
  return `${resource.origin}/.well-known/oauth-protected-resource${resource.pathname.replace(/\/+$/, "")}${endpoint}`
}

/** Text as it may stand in a quoted-string of RFC 9110 (neither `"` nor `\`) in a header (no control character). */
export const quotable = (text: string): string => text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, "?")

export interface AuthenticateOptions {
  /** The operator keys. */
  readonly operatorKeys: ReadonlyArray<Redacted.Redacted<string>>
  readonly access: Pick<AgentAccess, "verify" | "verifyKnown">
  /** The DTMA's resource identifier, for `resource_metadata` in challenges. */
  readonly resourceUrl: string
  readonly isPublic: (method: string, path: string) => boolean
  /** Unix ms, for a token's expiry; default: real time (the clock `verify` reads). */
  readonly now?: () => number
}

/**
 * Tells who a request is from and refuses it when that caller may not make it (agent-access spec,
 * "Access tokens" and "On MCP endpoints"). Public routes pass untouched. An operator key passes
 * everywhere. An agent token passes only on the MCP endpoints, whose refusals are JSON-RPC errors
 * with an RFC 6750 challenge; on any other route it gets `403 agent_token_not_allowed`, and the
 * legacy 401 and 403 bodies stay for everything else. The caller is left in `ctx.state.caller`,
 * for the layers after (grants, rate limits, audit) and for the audit of a refusal.
 */
export const authenticate = (options: AuthenticateOptions): Middleware => {
  const operatorOf = makeOperatorCheck(options.operatorKeys)
  const clock = options.now ?? Date.now
  /**
   * The token each connection presented last, made `Redacted` once: a client repeats its token on
   * every request of a connection, and the verifier knows a `Redacted` it has seen (its digest is
   * worked out once, not on every call). Held weakly, by the socket: gone with the connection.
   */
  const lastToken = new WeakMap<object, Redacted.Redacted<string>>()
  const redactedFor = (connection: object, token: string): Redacted.Redacted<string> => {
    const last = lastToken.get(connection)
    if (last !== undefined && Redacted.value(last) === token) return last
    const redacted = Redacted.make(token)
    lastToken.set(connection, redacted)
    return redacted
  }
  /**
   * The agent, or why its token is refused; anything else (a defect) is thrown, for the error
   * boundary. A token verified before (every agent request but its first) is answered by
   * `verifyKnown`, synchronously: no fiber, no effect, no turn of the event loop. Otherwise a
   * fiber runs `verify`, polled at once in case it needed nothing asynchronous.
   */
  const verify = (connection: object, token: string): Result.Result<AgentIdentity, TokenRefused> | Promise<Result.Result<AgentIdentity, TokenRefused>> => {
    const redacted = redactedFor(connection, token)
    const known = options.access.verifyKnown(redacted, clock())
    if (known !== undefined) return known
    const settled = (exit: Exit.Exit<Result.Result<AgentIdentity, TokenRefused>>) => {
      if (exit._tag === "Success") return exit.value
      throw Cause.squash(exit.cause)
    }
    const fiber = Effect.runFork(Effect.result(options.access.verify(redacted)))
    const now = fiber.pollUnsafe()
    if (now !== undefined) return settled(now)
    return new Promise((resolve, reject) =>
      fiber.addObserver((exit) => {
        try {
          resolve(settled(exit))
        } catch (defect) {
          reject(defect)
        }
      }),
    )
  }

  const challenge = (ctx: Context, error?: { readonly code: string; readonly description: string }): Record<string, string> => {
    const metadata = `resource_metadata="${quotable(resourceMetadataUrl(options.resourceUrl, ctx.path))}"`
    const params = error === undefined ? [metadata] : [`error="${error.code}"`, `error_description="${quotable(error.description)}"`, metadata]
    return { "WWW-Authenticate": `Bearer ${params.join(", ")}` }
  }

  const onMcpEndpoint = async (ctx: Context, next: () => Promise<unknown>, presented: string | undefined): Promise<unknown> => {
    if (presented === undefined) {
      return refuseMcp(ctx, {
        status: 401,
        code: EdgeErrorCodes.Unauthorized,
        error: "unauthorized",
        message: "Unauthorized: this MCP endpoint needs an access token in Authorization: Bearer <token>",
        headers: challenge(ctx),
      })
    }
    const operator = operatorOf(presented)
    if (operator !== null) {
      requestStateOf(ctx).caller = operator
      return next()
    }
    const pending = verify(ctx.req.socket, presented)
    const verified = pending instanceof Promise ? await pending : pending
    if (Result.isSuccess(verified)) {
      requestStateOf(ctx).caller = verified.success
      return next()
    }
    const refused = verified.failure
    if (refused.reason === "keys_unavailable") {
      return refuseMcp(ctx, {
        status: 503,
        code: EdgeErrorCodes.Unavailable,
        error: "temporarily_unavailable",
        message: `The access token cannot be checked now: ${refused.detail}`,
        headers: { "Retry-After": "5" },
      })
    }
    const description = refused.message
    return refuseMcp(ctx, {
      status: 401,
      code: EdgeErrorCodes.Unauthorized,
      error: "invalid_token",
      message: `Unauthorized: ${description}`,
      headers: challenge(ctx, { code: "invalid_token", description }),
    })
  }

  return async (ctx, next) => {
    if (options.isPublic(ctx.method, ctx.path)) return next()
    const presented = BEARER.exec(ctx.get("authorization"))?.[1]
    if (isMcpEndpoint(ctx.path)) return onMcpEndpoint(ctx, next, presented)
    if (presented === undefined) {
      ctx.status = 401
      ctx.set("WWW-Authenticate", "Bearer")
      ctx.body = UNAUTHORIZED_BODY
      return
    }
    const operator = operatorOf(presented)
    if (operator !== null) {
      requestStateOf(ctx).caller = operator
      return next()
    }
    const verified = await verify(ctx.req.socket, presented)
    if (Result.isSuccess(verified)) {
      requestStateOf(ctx).caller = verified.success
      ctx.status = 403
      ctx.body = AGENT_TOKEN_NOT_ALLOWED
      return
    }
    ctx.status = 403
    ctx.body = FORBIDDEN_BODY
  }
}
