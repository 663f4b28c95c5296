import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose"
import type { PublicJsonWebKey } from "@dtma/domain"

/** One signing key as the key file keeps it. */
export interface StoredKey {
  readonly kid: string
  /** Unix ms. */
  readonly createdAt: number
  /** When it stopped signing (unix ms), null for the current key. */
  readonly retiredAt: number | null
  /** Until when (unix ms) tokens it signed may still be accepted; null for the current key. */
  readonly keepUntil: number | null
  /** The Ed25519 private key (`d` included): the secret this file exists to keep. */
  readonly privateJwk: Readonly<Record<string, string>>
}

export interface KeyFile {
  readonly version: 1
  readonly keys: ReadonlyArray<StoredKey>
}

const isString = (v: unknown): v is string => typeof v === "string" && v.length > 0
const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v)

const isStoredKey = (v: unknown): v is StoredKey => {
  if (typeof v !== "object" || v === null) return false
  const k = v as Record<string, unknown>
  const jwk = k.privateJwk as Record<string, unknown> | undefined
  return (
    isString(k.kid) &&
    isTime(k.createdAt) &&
    (k.retiredAt === null || isTime(k.retiredAt)) &&
    (k.keepUntil === null || isTime(k.keepUntil)) &&
    (k.retiredAt === null) === (k.keepUntil === null) &&
    typeof jwk === "object" &&
    jwk !== null &&
    jwk.kty === "OKP" &&
    jwk.crv === "Ed25519" &&
    isString(jwk.x) &&
    isString(jwk.d)
  )
}

/** The key file's content, or a sentence saying why it is not one (never quoting a key). */
export const keyFileOf = (text: string): KeyFile | string => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return "it is not JSON"
  }
  const { version, keys } = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>
  if (version !== 1 || !Array.isArray(keys)) return "it is not a version 1 key file"
  if (!keys.every(isStoredKey)) return "a key in it is not an Ed25519 private key with its times"
  if (keys.filter((k: StoredKey) => k.retiredAt === null).length !== 1) return "it does not hold exactly one current key"
  return { version: 1, keys }
}

/** A new Ed25519 key pair, its kid the RFC 7638 thumbprint of its public key. */
export const generateSigningKey = async (now: number): Promise<StoredKey> => {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true })
  const jwk = (await exportJWK(privateKey)) as Record<string, string>
  const { kty, crv, x, d } = jwk
  const privateJwk = { kty: kty!, crv: crv!, x: x!, d: d! }
  return { kid: await calculateJwkThumbprint({ kty: kty!, crv: crv!, x: x! }), createdAt: now, retiredAt: null, keepUntil: null, privateJwk }
}

/** The public half, as the JWKS publishes it. */
export const publicJwkOf = (key: StoredKey): PublicJsonWebKey => {
  const { kty, crv, x } = key.privateJwk
  return { kty: kty!, crv: crv!, x: x!, kid: key.kid, alg: "EdDSA", use: "sig" }
}

export const signingKeyOf = (key: StoredKey): Promise<CryptoKey> => importJWK(key.privateJwk as JWK, "EdDSA") as Promise<CryptoKey>
