import { readFile } from "node:fs/promises"
import * as Effect from "effect/Effect"
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose"
import type { JsonWebKeySet } from "@dtma/domain"
import { ioDetail } from "../credentials/ioDetail.ts"
import { KeysUnavailable } from "./tokenRefusal.ts"

/** Where an issuer's public keys come from. */
export type KeySource =
  /** Fetched over HTTP(S), cached, fetched again on an unknown `kid` at most once per cooldown (jose's remote key set). */
  | { readonly jwksUrl: string; readonly cooldownMs?: number; readonly timeoutMs?: number }
  /** Read from a file, read again on an unknown `kid` at most once per cooldown. */
  | { readonly jwksFile: string; readonly cooldownMs?: number }
  /** Handed over in process (the built-in issuer's `jwks()`): no network, no file. */
  | { readonly jwks: () => Effect.Effect<JsonWebKeySet> }

/** A key set as `jwtVerify` asks it; `now` (unix ms, from effect's Clock) paces file reloads. */
export interface KeySet {
  keysAt(now: number): Effect.Effect<JWTVerifyGetKey>
}

/** "Refreshed on an unknown kid, at most once a minute." */
export const DEFAULT_KEYS_COOLDOWN_MS = 60_000

const PASSED_THROUGH = new Set(["ERR_JWKS_NO_MATCHING_KEY", "ERR_JWKS_MULTIPLE_MATCHING_KEYS", "ERR_JOSE_NOT_SUPPORTED"])

const codeOf = (e: unknown): unknown => (typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined)

/** Everything but "no key matches" (the token's fault) means the keys could not be had. */
const unavailableUnlessNoMatch =
  (getKey: JWTVerifyGetKey, what: string): JWTVerifyGetKey =>
  async (header, token) => {
    try {
      return await getKey(header, token)
    } catch (e) {
      if (PASSED_THROUGH.has(String(codeOf(e)))) throw e
      throw new KeysUnavailable(`the key set at ${what} could not be fetched or used (${ioDetail(e)})`)
    }
  }

const remoteKeySet = (url: string, cooldownMs: number, timeoutMs: number): KeySet => {
  // jose paces this one by the wall clock (Date.now), not effect's Clock.
  const getKey = unavailableUnlessNoMatch(createRemoteJWKSet(new URL(url), { cooldownDuration: cooldownMs, timeoutDuration: timeoutMs }), url)
  return { keysAt: () => Effect.succeed(getKey) }
}

const fileKeySet = (path: string, cooldownMs: number): KeySet => {
  let local: JWTVerifyGetKey | null = null
  let readAt = Number.NEGATIVE_INFINITY
  let pending: Promise<JWTVerifyGetKey> | null = null
  const reload = (now: number): Promise<JWTVerifyGetKey> =>
    (pending ??= readFile(path, "utf8")
      .then((text) => {
        const set = createLocalJWKSet(JSON.parse(text) as JSONWebKeySet)
        local = set
        readAt = now
        return set
      })
      .catch((e: unknown) => {
        throw new KeysUnavailable(`the JWKS file ${path} could not be read as a key set (${ioDetail(e)})`)
      })
      .finally(() => {
        pending = null
      }))
  return {
    keysAt: (now) =>
      Effect.succeed(async (header, token) => {
        const set = local ?? (await reload(now))
        try {
          return await set(header, token)
        } catch (e) {
          if (codeOf(e) !== "ERR_JWKS_NO_MATCHING_KEY" || now - readAt < cooldownMs) throw e
          return (await reload(now))(header, token)
        }
      }),
  }
}

const providedKeySet = (current: () => Effect.Effect<JsonWebKeySet>): KeySet => {
  let built: { readonly kids: string; readonly getKey: JWTVerifyGetKey } | null = null
  return {
    keysAt: () =>
      Effect.map(current(), (jwks) => {
        const kids = jwks.keys.map((k) => k.kid).join(" ")
        if (built?.kids !== kids) built = { kids, getKey: createLocalJWKSet(structuredClone(jwks) as unknown as JSONWebKeySet) }
        return built.getKey
      }),
  }
}

export const keySetOf = (source: KeySource): KeySet =>
  "jwksUrl" in source
    ? remoteKeySet(source.jwksUrl, source.cooldownMs ?? DEFAULT_KEYS_COOLDOWN_MS, source.timeoutMs ?? 5_000)
    : "jwksFile" in source
      ? fileKeySet(source.jwksFile, source.cooldownMs ?? DEFAULT_KEYS_COOLDOWN_MS)
      : providedKeySet(source.jwks)
