import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { decodeJwt, jwtVerify, type CryptoKey, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from "jose"
import {
  agentIdProblem,
  grantsOfClaims,
  tokenIdProblem,
  TokenRefused,
  type AccessTokens,
  type AgentIdentity,
  type AgentTokenIssuer,
  type RevocationSubject,
} from "@dtma/domain"
import { keySetOf, type KeySet, type KeySource } from "./keySets.ts"
import { refusalOf } from "./tokenRefusal.ts"
import { makeDigestMemo, makeVerifiedTokenCache } from "./verifiedTokenCache.ts"

/** Only these: `none` and every HMAC algorithm are refused before any key is looked at. */
export const ALLOWED_ALGORITHMS = ["EdDSA", "ES256", "RS256"] as const

export interface TrustedIssuer {
  /** The exact `iss` its tokens carry. */
  readonly issuer: string
  readonly keys: KeySource
}

/** The built-in issuer as a trusted issuer: its keys are handed over in process, no network hop. */
export const trustedIssuerOf = (issuer: AgentTokenIssuer): TrustedIssuer => ({ issuer: issuer.issuer, keys: { jwks: () => issuer.jwks() } })

export interface JoseAccessTokensOptions {
  /** The DTMA's resource identifier (RFC 8707); a token's `aud` must contain it. */
  readonly audience: string
  readonly issuers: ReadonlyArray<TrustedIssuer>
  /** Checked on every call, cached or not (an `AgentRevocations` fits). */
  readonly revocations: { readonly isRevoked: (token: RevocationSubject) => boolean }
  /** Default 30. */
  readonly leewaySeconds?: number
  /** Longest `exp - iat` accepted (`DTMA_AGENT_TOKEN_MAX_TTL_S`), default 86400: what lets revocations be forgotten. */
  readonly maxTokenLifetimeSeconds?: number
  /** Verified tokens kept in memory, default 10 000. */
  readonly cacheMaxEntries?: number
  /** Longer tokens are refused unread, default 8192 characters. */
  readonly maxTokenLength?: number
}

/** Counters for tests and metrics. */
export interface AccessTokenStats {
  /** Tokens whose signature was checked (cache misses that got as far as a key). */
  readonly signatureChecks: number
  readonly cacheHits: number
  readonly cached: number
}

export interface JoseAccessTokens extends AccessTokens {
  stats(): AccessTokenStats
}

const refuse = (reason: TokenRefused["reason"], detail: string) => Effect.fail(new TokenRefused({ reason, detail }))

const EXPIRED = "the token has expired"
const REVOKED = "the token or its agent has been revoked"

/**
 * Verifies agent tokens with jose. Decisions beyond the spec's table:
 * - `iat` is required: revoking an agent refuses the tokens issued before, which needs `iat`; an
 *   `iat` more than the leeway in the future is refused (`not_yet_valid`).
 * - `exp - iat` may not exceed the maximum lifetime (`invalid_claims`), so that every token
 *   revoked is expired by a known time and its revocation can be forgotten.
 * - `jti` is optional (external issuers may not set one; the built-in issuer always does): such a
 *   token can only be revoked with its agent. When present it must be 1–256 characters.
 * - The issuer's key set is chosen by the unverified `iss`; an `iss` not configured is refused
 *   before any key is fetched, so a token can never make the DTMA fetch anything.
 * - Time comes from effect's Clock (jose gets it as `currentDate`); jose's remote key sets pace
 *   their refetches by the wall clock.
 */
export const makeJoseAccessTokens = (options: JoseAccessTokensOptions): JoseAccessTokens => {
  const leeway = options.leewaySeconds ?? 30
  const maxLifetime = options.maxTokenLifetimeSeconds ?? 86_400
  const maxLength = options.maxTokenLength ?? 8_192
  const cache = makeVerifiedTokenCache(options.cacheMaxEntries ?? 10_000)
  const digestOf = makeDigestMemo()
  const keySets = new Map<string, KeySet>()
  for (const { issuer, keys } of options.issuers) {
    if (keySets.has(issuer)) throw new Error(`issuer ${issuer} is configured twice`)
    keySets.set(issuer, keySetOf(keys))
  }
  let signatureChecks = 0
  let cacheHits = 0

  const checkSignature = (token: string, getKey: JWTVerifyGetKey, verifyOptions: JWTVerifyOptions): Promise<JWTPayload> => {
    signatureChecks += 1
    return jwtVerify(token, getKey, verifyOptions).then(
      (r) => r.payload,
      async (e: unknown) => {
        // Several keys match (no kid, or a kid used twice): the first that verifies wins, as jose documents.
        if ((e as { code?: unknown }).code !== "ERR_JWKS_MULTIPLE_MATCHING_KEYS") throw e
        for await (const key of e as AsyncIterable<CryptoKey>) {
          const verified = await jwtVerify(token, key, verifyOptions).catch((inner: unknown) => {
            if ((inner as { code?: unknown }).code !== "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") throw inner
            return null
          })
          if (verified !== null) return verified.payload
        }
        throw e
      },
    )
  }

  const identityOf = (payload: JWTPayload, issuer: string, now: number): Effect.Effect<AgentIdentity, TokenRefused> => {
    const { sub, jti, iat, exp } = payload as { sub: unknown; jti: unknown; iat: number; exp: number }
    const subProblem = agentIdProblem(sub)
    if (subProblem !== null) return refuse("invalid_claims", `the token's 'sub' ${subProblem}`)
    const jtiProblem = jti === undefined ? null : tokenIdProblem(jti)
    if (jtiProblem !== null) return refuse("invalid_claims", `the token's 'jti' ${jtiProblem}`)
    if (iat * 1000 > now + leeway * 1000) return refuse("not_yet_valid", "the token is issued in the future (iat)")
    if (exp - iat > maxLifetime) return refuse("invalid_claims", `the token lives longer than ${maxLifetime} s (exp - iat)`)
    const grants = grantsOfClaims(payload as { readonly grants?: unknown; readonly scope?: unknown })
    if (grants._tag === "Failure") return refuse("invalid_claims", grants.failure.message)
    return Effect.succeed({
      kind: "agent",
      sub: sub as string,
      jti: (jti as string | undefined) ?? null,
      issuer,
      issuedAt: iat * 1000,
      expiresAt: exp * 1000,
      grants: grants.success,
    })
  }

  const verifyCold = (token: string, now: number): Effect.Effect<AgentIdentity, TokenRefused> =>
    Effect.gen(function* () {
      let iss: unknown
      try {
        iss = decodeJwt(token).iss
      } catch (e) {
        return yield* Effect.fail(refusalOf(e))
      }
      const keySet = typeof iss === "string" ? keySets.get(iss) : undefined
      if (keySet === undefined) return yield* refuse("wrong_issuer", "the token's issuer is not one this DTMA trusts")
      const getKey = yield* keySet.keysAt(now)
      const payload = yield* Effect.tryPromise({
        try: () =>
          checkSignature(token, getKey, {
            algorithms: [...ALLOWED_ALGORITHMS],
            issuer: iss as string,
            audience: options.audience,
            clockTolerance: leeway,
            currentDate: new Date(now),
            requiredClaims: ["exp", "iat", "sub"],
          }),
        catch: refusalOf,
      })
      return yield* identityOf(payload, iss as string, now)
    })

  const unlessRevoked = (identity: AgentIdentity): Effect.Effect<AgentIdentity, TokenRefused> =>
    Effect.suspend(() => (options.revocations.isRevoked(identity) ? refuse("revoked", REVOKED) : Effect.succeed(identity)))

  /** The answer for a token held in the cache, by its digest; undefined when it is not held. */
  const known = (digest: string, now: number): Result.Result<AgentIdentity, TokenRefused> | undefined => {
    const cached = cache.get(digest, now)
    if (cached === undefined) return undefined
    if (cached === "expired") return Result.fail(new TokenRefused({ reason: "expired", detail: EXPIRED }))
    cacheHits += 1
    return options.revocations.isRevoked(cached) ? Result.fail(new TokenRefused({ reason: "revoked", detail: REVOKED })) : Result.succeed(cached)
  }

  // The warm path (a cached token) is on every MCP request: `verifyKnown` answers it without an effect.
  return {
    verify: (redacted) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const token = Redacted.value(redacted)
        if (token.length > maxLength) return refuse("malformed", `the token is longer than ${maxLength} characters`)
        const digest = digestOf(redacted)
        const answer = known(digest, now)
        if (answer !== undefined) return Effect.fromResult(answer)
        return verifyCold(token, now).pipe(
          Effect.tap((identity) => Effect.sync(() => cache.set(digest, identity, identity.expiresAt + leeway * 1000))),
          Effect.flatMap(unlessRevoked),
        )
      }),
    verifyKnown: (redacted, now) => (Redacted.value(redacted).length > maxLength ? undefined : known(digestOf(redacted), now)),
    stats: () => ({ signatureChecks, cacheHits, cached: cache.size }),
  }
}
