import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type { Grants } from "../access/grants.ts"
import { token, type Token } from "../Token.ts"

/** A public key as a JWKS publishes it (RFC 7517): `kid`, `kty`, `alg`, `use` and the key's own members. */
export interface PublicJsonWebKey {
  readonly kid: string
  readonly kty: string
  readonly [member: string]: unknown
}

export interface JsonWebKeySet {
  readonly keys: ReadonlyArray<PublicJsonWebKey>
}

export interface TokenRequest {
  readonly agentId: string
  readonly grants: Grants
  /** Lifetime; the issuer's default when absent, never more than its maximum. */
  readonly ttlSeconds?: number
}

export interface IssuedToken {
  /** The signed token: shown once to whoever asked for it, never logged. */
  readonly token: Redacted.Redacted<string>
  /** Its `jti`, to revoke it by. */
  readonly tokenId: string
  /** Its `exp`, unix ms. */
  readonly expiresAt: number
}

/** A token request the issuer will not sign. */
export class InvalidTokenRequest extends Data.TaggedError("InvalidTokenRequest")<{
  readonly field: "agentId" | "ttlSeconds"
  readonly problem: string
}> {
  override get message(): string {
    return `Invalid ${this.field}: ${this.problem}`
  }
}

/** `unreadable` / `corrupt`: the kept keys cannot be loaded; `unwritable`: a new key set could not be kept. */
export type IssuerKeysProblem = "unreadable" | "corrupt" | "unwritable"

/** The issuer's signing keys could not be loaded or kept. Never quotes a key. */
export class IssuerKeysFailed extends Data.TaggedError("IssuerKeysFailed")<{
  readonly reason: IssuerKeysProblem
  readonly detail: string
}> {
  override get message(): string {
    return `The agent token signing keys could not be ${this.reason === "unwritable" ? "kept" : "loaded"} (${this.reason}): ${this.detail}`
  }
}

/** The DTMA's own token issuer: signs agent tokens with a key it keeps, publishes the public keys. */
export interface AgentTokenIssuer {
  /** The `iss` of every token it signs. */
  readonly issuer: string
  /**
   * Signs a token for the agent with these grants, with the current key, a fresh random `jti`,
   * `iat` now and `exp` after the lifetime. Fails `InvalidTokenRequest` for an agent id that is not
   * 1–128 characters or a lifetime that is not a whole number of seconds from 1 to the maximum.
   */
  issue(request: TokenRequest): Effect.Effect<IssuedToken, InvalidTokenRequest>
  /** The public keys that verify its unexpired tokens: the current key and every retired key still needed. */
  jwks(): Effect.Effect<JsonWebKeySet>
  /**
   * Starts signing with a new key, kept before it is used. The previous key stays in `jwks()` until
   * the last token it signed has expired (plus leeway), then it is gone. Fails `unwritable` without
   * changing anything.
   */
  rotate(): Effect.Effect<{ readonly kid: string }, IssuerKeysFailed>
  /** Forgets, in storage too, the retired keys no unexpired token needs; says which. Idempotent. */
  prune(): Effect.Effect<ReadonlyArray<string>, IssuerKeysFailed>
}

export const AgentTokenIssuer: Token<AgentTokenIssuer> = token("dtma/AgentTokenIssuer")
