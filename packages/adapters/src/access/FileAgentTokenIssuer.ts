import { randomUUID } from "node:crypto"
import { chmod, stat } from "node:fs/promises"
import { dirname } from "node:path"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Semaphore from "effect/Semaphore"
import { SignJWT, type CryptoKey } from "jose"
import { agentIdProblem, claimOfGrants, InvalidTokenRequest, IssuerKeysFailed, type AgentTokenIssuer, type IssuerKeysProblem } from "@dtma/domain"
import { ioDetail } from "../credentials/ioDetail.ts"
import { ensurePrivateDirectory, readIfPresent, writePrivateFile } from "./privateFiles.ts"
import { generateSigningKey, keyFileOf, publicJwkOf, signingKeyOf, type StoredKey } from "./signingKeys.ts"

export const SIGNING_KEYS_FILE = "agent-token-keys.json"

export interface FileAgentTokenIssuerOptions {
  /** The key file, normally `<stateDir>/agent-token-keys.json`: kept 0600, its directory 0700. */
  readonly path: string
  /** The `iss` of its tokens. */
  readonly issuer: string
  /** The `aud` of its tokens: the DTMA's resource identifier. */
  readonly audience: string
  /** Default 900. */
  readonly defaultTtlSeconds?: number
  /** `DTMA_AGENT_TOKEN_MAX_TTL_S`, default 86400. */
  readonly maxTtlSeconds?: number
  /** How long after `exp` a token is still accepted (the verifier's leeway), default 30. */
  readonly leewaySeconds?: number
}

interface LiveKey {
  readonly stored: StoredKey
  readonly signer: CryptoKey
  /** The latest `exp` (unix ms) of a token it signed, or a bound on it. */
  signedUntil: number
}

const keysFailed = (reason: IssuerKeysProblem, e: unknown) => new IssuerKeysFailed({ reason, detail: ioDetail(e) })

/**
 * The built-in issuer: Ed25519 (EdDSA) keys kept in one JSON file in the state directory, made at
 * first start and loaded after. Decisions:
 * - Tokens carry `typ: at+jwt` (RFC 9068), `kid`, `iss`, `sub`, `aud`, `iat`, `exp`, a random UUID
 *   `jti`, and `grants` in the claim form.
 * - A retired key is kept until the last token it signed stops being accepted (`exp` + leeway).
 *   This process knows each `exp` it signed; for tokens a previous process signed with the
 *   current key, the bound is this start plus the maximum lifetime (no write per token).
 * - The key file is written whole and atomically, and a new key is on disk before it signs
 *   anything; a file that is not a key file stops the start (`corrupt`) rather than being replaced,
 *   which would silently invalidate every token.
 * - Retired keys past their time leave `jwks()` at once; they leave the file on `prune()`,
 *   `rotate()` and at start.
 */
export const makeFileAgentTokenIssuer = (options: FileAgentTokenIssuerOptions): Effect.Effect<AgentTokenIssuer, IssuerKeysFailed> =>
  Effect.gen(function* () {
    const defaultTtl = options.defaultTtlSeconds ?? 900
    const maxTtl = options.maxTtlSeconds ?? 86_400
    const leewayMs = (options.leewaySeconds ?? 30) * 1000
    const writing = Semaphore.makeUnsafe(1)
    const startedAt = yield* Clock.currentTimeMillis

    const save = (stored: ReadonlyArray<StoredKey>) =>
      Effect.tryPromise({
        try: async () => {
          await ensurePrivateDirectory(dirname(options.path))
          await writePrivateFile(options.path, `${JSON.stringify({ version: 1, keys: stored }, null, 2)}\n`)
        },
        catch: (e) => keysFailed("unwritable", e),
      })
    const live = (stored: StoredKey, signedUntil: number) =>
      Effect.tryPromise({ try: () => signingKeyOf(stored), catch: (e) => keysFailed("corrupt", e) }).pipe(
        Effect.map((signer): LiveKey => ({ stored, signer, signedUntil })),
      )
    const stillNeeded = (k: LiveKey, now: number) => k.stored.keepUntil === null || now < k.stored.keepUntil

    const text = yield* Effect.tryPromise({
      try: async () => {
        await ensurePrivateDirectory(dirname(options.path))
        const kept = await readIfPresent(options.path)
        if (kept !== null && ((await stat(options.path)).mode & 0o077) !== 0) await chmod(options.path, 0o600)
        return kept
      },
      catch: (e) => keysFailed("unreadable", e),
    })
    let keys: Array<LiveKey>
    if (text === null) {
      const first = yield* Effect.promise(() => generateSigningKey(startedAt))
      yield* save([first])
      keys = [yield* live(first, startedAt)]
    } else {
      const file = keyFileOf(text)
      if (typeof file === "string") return yield* Effect.fail(new IssuerKeysFailed({ reason: "corrupt", detail: `${options.path}: ${file}` }))
      keys = yield* Effect.forEach(file.keys, (k) => live(k, k.retiredAt === null ? startedAt + maxTtl * 1000 : k.retiredAt))
      if (keys.some((k) => !stillNeeded(k, startedAt))) {
        keys = keys.filter((k) => stillNeeded(k, startedAt))
        yield* save(keys.map((k) => k.stored))
      }
    }
    const current = () => keys.find((k) => k.stored.retiredAt === null)!

    const prune = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const dropped = keys.filter((k) => !stillNeeded(k, now))
      if (dropped.length === 0) return []
      const kept = keys.filter((k) => stillNeeded(k, now))
      yield* save(kept.map((k) => k.stored))
      keys = kept
      return dropped.map((k) => k.stored.kid)
    })

    return {
      issuer: options.issuer,
      issue: (request) =>
        Effect.gen(function* () {
          const agentProblem = agentIdProblem(request.agentId)
          if (agentProblem !== null) return yield* Effect.fail(new InvalidTokenRequest({ field: "agentId", problem: agentProblem }))
          const ttl = request.ttlSeconds ?? defaultTtl
          if (!Number.isInteger(ttl) || ttl < 1 || ttl > maxTtl) {
            return yield* Effect.fail(new InvalidTokenRequest({ field: "ttlSeconds", problem: `must be a whole number of seconds from 1 to ${maxTtl}` }))
          }
          const iat = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          const exp = iat + ttl
          // Under the rotation lock: a rotation reads the old key's bound only once no issue can still move it.
          const key = yield* Semaphore.withPermits(
            writing,
            1,
            Effect.sync(() => {
              const k = current()
              k.signedUntil = Math.max(k.signedUntil, exp * 1000)
              return k
            }),
          )
          const jti = randomUUID()
          const token = yield* Effect.promise(() =>
            new SignJWT({ grants: claimOfGrants(request.grants) })
              .setProtectedHeader({ alg: "EdDSA", kid: key.stored.kid, typ: "at+jwt" })
              .setIssuer(options.issuer)
              .setSubject(request.agentId)
              .setAudience(options.audience)
              .setIssuedAt(iat)
              .setExpirationTime(exp)
              .setJti(jti)
              .sign(key.signer),
          )
          return { token: Redacted.make(token), tokenId: jti, expiresAt: exp * 1000 }
        }),
      jwks: () => Effect.map(Clock.currentTimeMillis, (now) => ({ keys: keys.filter((k) => stillNeeded(k, now)).map((k) => publicJwkOf(k.stored)) })),
      rotate: () =>
        Semaphore.withPermits(
          writing,
          1,
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const fresh = yield* live(yield* Effect.promise(() => generateSigningKey(now)), now)
            const old = current()
            const retired: LiveKey = { ...old, stored: { ...old.stored, retiredAt: now, keepUntil: old.signedUntil + leewayMs } }
            const next = [...keys.filter((k) => k !== old && stillNeeded(k, now)), retired, fresh]
            yield* save(next.map((k) => k.stored))
            keys = next
            return { kid: fresh.stored.kid }
          }),
        ),
      prune: () => Semaphore.withPermits(writing, 1, prune),
    } satisfies AgentTokenIssuer
  })
