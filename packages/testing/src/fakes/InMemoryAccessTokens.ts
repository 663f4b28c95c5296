import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { TokenRefused, type AccessTokens, type AgentIdentity, type Grants, type JsonWebKeySet, type RevocationSubject, type TokenProblem } from "@dtma/domain"

export interface InMemoryAccessTokensOptions {
  /** Checked on every verification, as the real verifier does (an `AgentRevocations` fits). Default: nothing revoked. */
  readonly revocations?: { readonly isRevoked: (token: RevocationSubject) => boolean }
  /** Default 30. */
  readonly leewaySeconds?: number
}

export interface MintRequest {
  readonly sub: string
  readonly grants: Grants
  /** Default 900. */
  readonly ttlSeconds?: number
  /** Default a fresh `jti-<n>`; null for a token without one. */
  readonly jti?: string | null
  /** Default `https://issuer.fake`. */
  readonly issuer?: string
  /** The key that "signed" it; checked against its issuer's published keys when the issuer is trusted by `trust`. */
  readonly kid?: string
}

interface Minted {
  readonly identity: AgentIdentity
  readonly kid: string | null
}

/**
 * A stand-in for `JoseAccessTokens`: tokens are opaque strings it minted (`fake-token-<n>`), each
 * standing for the identity it was minted with. It refuses as the real one does: a token it never
 * minted as `malformed`, past `exp` + leeway as `expired`, a revoked one as `revoked`, one whose key
 * its trusted issuer no longer publishes as `unknown_key`, and `refusing(reason)` mints a token
 * refused for that reason (wrong audience, tampered, …). Like the real one, it knows a token
 * (`verifyKnown`) once `verify` has accepted it, until it expires.
 */
export class InMemoryAccessTokens implements AccessTokens {
  readonly #minted = new Map<string, Minted>()
  readonly #refused = new Map<string, TokenProblem>()
  readonly #issuers = new Map<string, () => Effect.Effect<JsonWebKeySet>>()
  readonly #revocations: InMemoryAccessTokensOptions["revocations"]
  readonly #leewayMs: number
  /** Tokens `verify` accepted: what `verifyKnown` answers for. */
  readonly #known = new Set<string>()
  #count = 0
  /** Every verification asked for, successful or not. */
  verifications = 0

  constructor(options: InMemoryAccessTokensOptions = {}) {
    this.#revocations = options.revocations
    this.#leewayMs = (options.leewaySeconds ?? 30) * 1000
  }

  /** Checks the key of tokens from this issuer against its published keys, as the real verifier does. */
  trust(issuer: { readonly issuer: string; readonly jwks: () => Effect.Effect<JsonWebKeySet> }): void {
    this.#issuers.set(issuer.issuer, () => issuer.jwks())
  }

  mint(request: MintRequest): Effect.Effect<string> {
    return Effect.map(Clock.currentTimeMillis, (now) => {
      const issuedAt = Math.floor(now / 1000) * 1000
      const token = `fake-token-${++this.#count}`
      const identity: AgentIdentity = {
        kind: "agent",
        sub: request.sub,
        jti: request.jti === undefined ? `jti-${this.#count}` : request.jti,
        issuer: request.issuer ?? "https://issuer.fake",
        issuedAt,
        expiresAt: issuedAt + (request.ttlSeconds ?? 900) * 1000,
        grants: request.grants,
      }
      this.#minted.set(token, { identity, kid: request.kid ?? null })
      return token
    })
  }

  /** The key a minted token was "signed" with, or null. */
  kidOf(token: string): string | null {
    return this.#minted.get(token)?.kid ?? null
  }

  /** A token this verifier refuses for `reason`. */
  refusing(reason: TokenProblem): string {
    const token = `fake-refused-${reason}-${++this.#count}`
    this.#refused.set(token, reason)
    return token
  }

  verify(redacted: Redacted.Redacted<string>): Effect.Effect<AgentIdentity, TokenRefused> {
    const token = Redacted.value(redacted)
    const refuse = (reason: TokenProblem) => Effect.fail(new TokenRefused({ reason, detail: `refused by the fake (${reason})` }))
    return Effect.gen({ self: this }, function* () {
      this.verifications += 1
      const reason = this.#refused.get(token)
      if (reason !== undefined) return yield* refuse(reason)
      const minted = this.#minted.get(token)
      if (minted === undefined) return yield* refuse("malformed")
      const keys = this.#issuers.get(minted.identity.issuer)
      if (keys !== undefined && !(yield* keys()).keys.some((k) => k.kid === minted.kid)) return yield* refuse("unknown_key")
      if ((yield* Clock.currentTimeMillis) >= minted.identity.expiresAt + this.#leewayMs) return yield* refuse("expired")
      if (this.#revocations?.isRevoked(minted.identity) === true) return yield* refuse("revoked")
      this.#known.add(token)
      return minted.identity
    })
  }

  verifyKnown(redacted: Redacted.Redacted<string>, now: number): Result.Result<AgentIdentity, TokenRefused> | undefined {
    const token = Redacted.value(redacted)
    const identity = this.#known.has(token) ? this.#minted.get(token)?.identity : undefined
    if (identity === undefined) return undefined
    const refuse = (reason: TokenProblem) => Result.fail(new TokenRefused({ reason, detail: `refused by the fake (${reason})` }))
    if (now >= identity.expiresAt + this.#leewayMs) {
      this.#known.delete(token)
      return refuse("expired")
    }
    return this.#revocations?.isRevoked(identity) === true ? refuse("revoked") : Result.succeed(identity)
  }
}
