import { isAbsolute } from "node:path"
import type { TrustedIssuer } from "./JoseAccessTokens.ts"

export const ISSUERS_VARIABLE = "DTMA_AGENT_TOKEN_ISSUERS"
export const MAX_EXTERNAL_ISSUERS = 16
const EXAMPLE =
  '[{"issuer":"https://idp.example.com","jwksUrl":"https://idp.example.com/.well-known/jwks.json"},' +
  '{"issuer":"https://other.example","jwksFile":"/etc/dtma/other-jwks.json"}]'
const KEYS = new Set(["issuer", "jwksUrl", "jwksFile"])
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/

export type IssuersSetting = { readonly ok: true; readonly issuers: ReadonlyArray<TrustedIssuer> } | { readonly ok: false; readonly problem: string }

const bad = (problem: string): IssuersSetting => ({ ok: false, problem: `${ISSUERS_VARIABLE}: ${problem}` })

const urlProblem = (text: string): string | null => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return "is not an absolute URL"
  }
  if (url.username !== "" || url.password !== "") return "must not carry credentials"
  if (url.protocol === "https:") return null
  if (url.protocol === "http:" && LOOPBACK.test(url.hostname)) return null
  return "must be https (http only on a loopback host)"
}

/**
 * Reads `DTMA_AGENT_TOKEN_ISSUERS`: a JSON list of external issuers, each `{"issuer", "jwksUrl"}`
 * or `{"issuer", "jwksFile"}` (`issuer` is the exact `iss` its tokens carry). Empty or unset: no
 * external issuer. Refused, naming the item: unknown fields, both or neither key source, a URL
 * that is not https (http is allowed on loopback, for a local identity provider) or that carries
 * credentials, a relative file path, an issuer listed twice or equal to the built-in issuer's id,
 * more than 16 issuers.
 */
export const parseTokenIssuers = (text: string | undefined, builtInIssuer: string | null = null): IssuersSetting => {
  if (text === undefined || text.trim() === "") return { ok: true, issuers: [] }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return bad(`is not JSON; expected a list like ${EXAMPLE}`)
  }
  if (!Array.isArray(value)) return bad(`must be a JSON list like ${EXAMPLE}`)
  if (value.length > MAX_EXTERNAL_ISSUERS) return bad(`lists more than ${MAX_EXTERNAL_ISSUERS} issuers`)
  const issuers: Array<TrustedIssuer> = []
  for (const [i, item] of value.entries()) {
    const where = `item ${i + 1}`
    if (typeof item !== "object" || item === null || Array.isArray(item)) return bad(`${where} must be an object like ${EXAMPLE}`)
    const unknown = Object.keys(item).find((k) => !KEYS.has(k))
    if (unknown !== undefined) return bad(`${where} has an unknown field '${unknown}' (known: issuer, jwksUrl, jwksFile)`)
    const { issuer, jwksUrl, jwksFile } = item as Record<string, unknown>
    if (typeof issuer !== "string" || issuer.length === 0 || issuer.length > 2048) return bad(`${where}: 'issuer' must be a non-empty string`)
    if (issuers.some((t) => t.issuer === issuer)) return bad(`${where}: issuer '${issuer}' is listed twice`)
    if (issuer === builtInIssuer) return bad(`${where}: issuer '${issuer}' is the DTMA's own built-in issuer`)
    if ((jwksUrl === undefined) === (jwksFile === undefined)) return bad(`${where} must have exactly one of 'jwksUrl' and 'jwksFile'`)
    if (jwksUrl !== undefined) {
      const problem = typeof jwksUrl === "string" ? urlProblem(jwksUrl) : "must be a string"
      if (problem !== null) return bad(`${where}: 'jwksUrl' ${problem}`)
      issuers.push({ issuer, keys: { jwksUrl: jwksUrl as string } })
    } else {
      if (typeof jwksFile !== "string" || !isAbsolute(jwksFile)) return bad(`${where}: 'jwksFile' must be an absolute path`)
      issuers.push({ issuer, keys: { jwksFile } })
    }
  }
  return { ok: true, issuers }
}
