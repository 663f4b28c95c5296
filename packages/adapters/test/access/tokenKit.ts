import type { JsonWebKeySet } from "@dtma/domain"
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose"

export const ISSUER = "https://idp.example.test"
export const AUDIENCE = "https://dtma.example.test:30000"

export type Alg = "EdDSA" | "ES256" | "RS256"

export interface TestKey {
  readonly alg: Alg
  readonly kid: string
  readonly privateKey: CryptoKey
  /** The public JWK as a JWKS would publish it. */
  readonly jwk: JWK & { readonly kid: string }
}

export const makeKey = async (alg: Alg, kid: string): Promise<TestKey> => {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) })
  return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } }
}

export const jwksOf = (...keys: ReadonlyArray<TestKey>): JsonWebKeySet => ({ keys: keys.map((k) => ({ ...k.jwk }) as JsonWebKeySet["keys"][number]) })

/** Claims a valid token has at `nowMs`, with overrides (`undefined` removes a claim). */
export const claimsAt = (nowMs: number, overrides: Readonly<Record<string, unknown>> = {}): Record<string, unknown> => {
  const iat = Math.floor(nowMs / 1000)
  const claims: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "agent-1",
    jti: "tok-1",
    iat,
    exp: iat + 900,
    grants: [{ server: "memory" }],
    ...overrides,
  }
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k]
  return claims
}

export const sign = (key: TestKey, claims: Readonly<Record<string, unknown>>, header: Readonly<Record<string, unknown>> = {}): Promise<string> =>
  new SignJWT({ ...claims }).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey)

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

/** A token with `alg: none` and no signature. */
export const unsigned = (claims: Readonly<Record<string, unknown>>): string => `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`

/** The token with its payload replaced, signature kept (a tampered token). */
export const withPayload = (token: string, claims: Readonly<Record<string, unknown>>): string => {
  const [header, , signature] = token.split(".")
  return `${header}.${b64(claims)}.${signature}`
}
