import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import {
  agentIdProblem,
  InvalidTokenRequest,
  IssuerKeysFailed,
  type AgentTokenIssuer,
  type IssuedToken,
  type JsonWebKeySet,
  type TokenRequest,
} from "@dtma/domain"
import type { InMemoryAccessTokens } from "./InMemoryAccessTokens.ts"

export interface InMemoryAgentTokenIssuerOptions {
  /** The fake verifier its tokens are minted in; it is made to trust this issuer's keys. */
  readonly tokens: InMemoryAccessTokens
  /** Default `https://dtma.fake`. */
  readonly issuer?: string
  readonly defaultTtlSeconds?: number
  readonly maxTtlSeconds?: number
  readonly leewaySeconds?: number
}

interface FakeKey {
  readonly kid: string
  signedUntil: number
  keepUntil: number | null
}

/**
 * A stand-in for `FileAgentTokenIssuer`: the same request checks, keys that rotate and are kept
 * until their last token stops being accepted, and `failNextRotation()` for an unwritable key file.
 * Its tokens are minted in an `InMemoryAccessTokens`, which then answers for them.
 */
export class InMemoryAgentTokenIssuer implements AgentTokenIssuer {
  readonly issuer: string
  readonly #tokens: InMemoryAccessTokens
  readonly #defaultTtl: number
  readonly #maxTtl: number
  readonly #leewayMs: number
  #keys: Array<FakeKey> = [{ kid: "fake-key-1", signedUntil: 0, keepUntil: null }]
  #generated = 1
  #failRotations = 0

  constructor(options: InMemoryAgentTokenIssuerOptions) {
    this.issuer = options.issuer ?? "https://dtma.fake"
    this.#tokens = options.tokens
    this.#defaultTtl = options.defaultTtlSeconds ?? 900
    this.#maxTtl = options.maxTtlSeconds ?? 86_400
    this.#leewayMs = (options.leewaySeconds ?? 30) * 1000
    options.tokens.trust(this)
  }

  failNextRotation(): void {
    this.#failRotations += 1
  }

  #current(): FakeKey {
    return this.#keys.find((k) => k.keepUntil === null)!
  }

  #needed(now: number): Array<FakeKey> {
    return this.#keys.filter((k) => k.keepUntil === null || now < k.keepUntil)
  }

  issue(request: TokenRequest): Effect.Effect<IssuedToken, InvalidTokenRequest> {
    return Effect.gen({ self: this }, function* () {
      const problem = agentIdProblem(request.agentId)
      if (problem !== null) return yield* Effect.fail(new InvalidTokenRequest({ field: "agentId", problem }))
      const ttl = request.ttlSeconds ?? this.#defaultTtl
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > this.#maxTtl) {
        return yield* Effect.fail(new InvalidTokenRequest({ field: "ttlSeconds", problem: `must be a whole number of seconds from 1 to ${this.#maxTtl}` }))
      }
      const key = this.#current()
      const tokenId = `fake-jti-${crypto.randomUUID()}`
      const token = yield* this.#tokens.mint({ sub: request.agentId, grants: request.grants, ttlSeconds: ttl, jti: tokenId, issuer: this.issuer, kid: key.kid })
      const expiresAt = Math.floor((yield* Clock.currentTimeMillis) / 1000) * 1000 + ttl * 1000
      key.signedUntil = Math.max(key.signedUntil, expiresAt)
      return { token: Redacted.make(token), tokenId, expiresAt }
    })
  }

  jwks(): Effect.Effect<JsonWebKeySet> {
    return Effect.map(Clock.currentTimeMillis, (now) => ({
      keys: this.#needed(now).map((k) => ({ kid: k.kid, kty: "OKP", crv: "Ed25519", x: `fake-public-${k.kid}`, alg: "EdDSA", use: "sig" })),
    }))
  }

  rotate(): Effect.Effect<{ readonly kid: string }, IssuerKeysFailed> {
    return Effect.gen({ self: this }, function* () {
      if (this.#failRotations > 0) {
        this.#failRotations -= 1
        return yield* Effect.fail(new IssuerKeysFailed({ reason: "unwritable", detail: "injected failure" }))
      }
      const now = yield* Clock.currentTimeMillis
      const old = this.#current()
      old.keepUntil = old.signedUntil + this.#leewayMs
      const fresh = { kid: `fake-key-${++this.#generated}`, signedUntil: 0, keepUntil: null }
      this.#keys = [...this.#keys.filter((k) => k !== old && (k.keepUntil === null || now < k.keepUntil)), old, fresh]
      return { kid: fresh.kid }
    })
  }

  prune(): Effect.Effect<ReadonlyArray<string>, IssuerKeysFailed> {
    return Effect.map(Clock.currentTimeMillis, (now) => {
      const kept = this.#needed(now)
      const dropped = this.#keys.filter((k) => !kept.includes(k)).map((k) => k.kid)
      this.#keys = kept
      return dropped
    })
  }
}
