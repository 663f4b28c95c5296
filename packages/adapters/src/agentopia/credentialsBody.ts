import * as Redacted from "effect/Redacted"
import type { CredentialRequest, EnvVar, OAuthCredential } from "@dtma/domain"

/**
 * A parsed body, or what is wrong with it. A problem names fields and positions only, never a
 * value: the body being parsed carries access tokens and secrets.
 */
export type Parsed<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly problem: string }

const ok = <A>(value: A): Parsed<A> => ({ ok: true, value })
const bad = (problem: string): Parsed<never> => ({ ok: false, problem })

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
// A timezone is required: without one, `Date.parse` reads the time in the host's zone.
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/

/** The body of `get-mcp-oauth-credentials`. */
export const oauthRequestBody = (request: CredentialRequest) => ({
  agentId: request.agentId,
  accountToolInstanceId: request.accountToolInstanceId,
  oauthConnectionIds: [...request.connectionIds],
  requiredScopes: [...request.requiredScopes],
})

const parseJson = (text: string): Parsed<unknown> => {
  try {
    return ok(JSON.parse(text) as unknown)
  } catch {
    return bad("the body is not JSON")
  }
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const isNonEmptyString = (u: unknown): u is string => typeof u === "string" && u.length > 0

/** ISO-8601 date-time with a timezone → unix ms; null stays null; anything else is undefined. */
export const expiryOf = (u: unknown): number | null | undefined => {
  if (u === null) return null
  if (typeof u !== "string" || !ISO_DATE_TIME.test(u)) return undefined
  const ms = Date.parse(u)
  return Number.isFinite(ms) ? ms : undefined
}

const credentialAt = (u: unknown, at: string): Parsed<OAuthCredential> => {
  if (!isRecord(u)) return bad(`${at} is not an object`)
  for (const field of ["connection_id", "provider", "access_token", "token_type"]) {
    if (!isNonEmptyString(u[field])) return bad(`${at}.${field} is not a non-empty string`)
  }
  const expiresAt = expiryOf(u["expires_at"])
  if (expiresAt === undefined) return bad(`${at}.expires_at is neither an ISO-8601 date-time with a timezone nor null`)
  const scopes = u["scopes"]
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === "string")) return bad(`${at}.scopes is not an array of strings`)
  return ok({
    connectionId: u["connection_id"] as string,
    provider: u["provider"] as string,
    accessToken: Redacted.make(u["access_token"] as string),
    tokenType: u["token_type"] as string,
    expiresAt,
    scopes: scopes as ReadonlyArray<string>,
  })
}

/** `{"credentials":[{connection_id, provider, access_token, token_type, expires_at, scopes}]}` → credentials, tokens redacted. */
export const parseOAuthCredentials = (text: string): Parsed<ReadonlyArray<OAuthCredential>> => {
  const json = parseJson(text)
  if (!json.ok) return json
  if (!isRecord(json.value) || !Array.isArray(json.value["credentials"])) return bad("the body has no 'credentials' array")
  const credentials: Array<OAuthCredential> = []
  for (const [i, u] of json.value["credentials"].entries()) {
    const credential = credentialAt(u, `credentials[${i}]`)
    if (!credential.ok) return credential
    credentials.push(credential.value)
  }
  return ok(credentials)
}

/** `{"secrets":{"NAME":"value"|null}}` → environment variables, values redacted, nulls skipped. */
export const parseToolSecrets = (text: string): Parsed<ReadonlyArray<EnvVar>> => {
  const json = parseJson(text)
  if (!json.ok) return json
  if (!isRecord(json.value) || !isRecord(json.value["secrets"])) return bad("the body has no 'secrets' object")
  const env: Array<EnvVar> = []
  for (const [i, [name, value]] of Object.entries(json.value["secrets"]).entries()) {
    // Names are not echoed either: a malformed body could have a value where a name belongs.
    if (!ENV_NAME.test(name)) return bad(`secret #${i + 1} has a name that is not a valid environment variable name`)
    if (value === null) continue
    if (typeof value !== "string") return bad(`secret #${i + 1} is neither a string nor null`)
    env.push({ name, value: Redacted.make(value) })
  }
  return ok(env)
}

/** The `error` code of a JSON error body (`{"error":"…"}`), or null when the body is not one. */
export const errorCodeOf = (text: string): string | null => {
  const json = parseJson(text)
  return json.ok && isRecord(json.value) && typeof json.value["error"] === "string" ? json.value["error"] : null
}

/** The `connection_id` a 409 body names, or null. */
export const connectionIdOf = (text: string): string | null => {
  const json = parseJson(text)
  return json.ok && isRecord(json.value) && isNonEmptyString(json.value["connection_id"]) ? json.value["connection_id"] : null
}
