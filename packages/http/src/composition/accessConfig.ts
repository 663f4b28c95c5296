import { parseTokenIssuers, type TrustedIssuer } from "@dtma/adapters"

/** Who may call the MCP endpoints, and how often (`DTMA_RESOURCE_URL`, `DTMA_AGENT_*`, `DTMA_ALLOWED_ORIGINS`). */
export interface AccessConfig {
  /**
   * The DTMA's resource identifier (RFC 8707, `DTMA_RESOURCE_URL`): an agent token's `aud` must
   * contain it, the built-in issuer's `iss` is it, and the protected-resource metadata names it.
   */
  readonly resourceUrl: string
  /** The host name callers reach this DTMA by (`DTMA_PUBLIC_HOST`): accepted in `Host` besides loopback names. */
  readonly publicHost: string | null
  /** External issuers (`DTMA_AGENT_TOKEN_ISSUERS`), besides the built-in one. */
  readonly issuers: ReadonlyArray<TrustedIssuer>
  /** Longest lifetime of an agent token (`DTMA_AGENT_TOKEN_MAX_TTL_S`). */
  readonly maxTokenTtlSeconds: number
  /** Browser origins allowed on the MCP endpoints (`DTMA_ALLOWED_ORIGINS`, comma-separated); none by default. */
  readonly allowedOrigins: ReadonlyArray<string>
  /** An agent's sustained request rate on MCP endpoints (`DTMA_AGENT_RATE_PER_S`) and the burst above it (`DTMA_AGENT_BURST`). */
  readonly ratePerSecond: number
  readonly burst: number
}

export const DEFAULT_AGENT_RATE_PER_S = 50
export const DEFAULT_AGENT_BURST = 100
export const DEFAULT_MAX_TOKEN_TTL_S = 86_400

const number = (get: (key: string) => string | undefined, fail: (problem: string) => never, key: string, fallback: number, min: number, max: number) => {
  const text = get(key)
  if (text === undefined) return fallback
  const value = Number(text)
  if (!/^\d+(\.\d+)?$/.test(text) || value < min || value > max) return fail(`${key} must be a number from ${min} to ${max}`)
  return value
}

const HOST_NAME = /^[A-Za-z0-9.-]{1,253}$/

/** Reads the access settings; `defaultOrigin` is `http(s)://<host>:<port>` of this DTMA. */
export const accessConfigOf = (get: (key: string) => string | undefined, fail: (problem: string) => never, defaultOrigin: string): AccessConfig => {
  const publicHost = get("DTMA_PUBLIC_HOST") ?? null
  if (publicHost !== null && !HOST_NAME.test(publicHost)) fail("DTMA_PUBLIC_HOST must be a host name")
  const resourceUrl = (get("DTMA_RESOURCE_URL") ?? defaultOrigin).replace(/\/+$/, "")
  let parsed: URL
  try {
    parsed = new URL(resourceUrl)
  } catch {
    return fail("DTMA_RESOURCE_URL must be an absolute http(s) URL")
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") fail("DTMA_RESOURCE_URL must be an absolute http(s) URL")
  const issuers = parseTokenIssuers(get("DTMA_AGENT_TOKEN_ISSUERS"), resourceUrl)
  if (!issuers.ok) return fail(issuers.problem)
  const origins = (get("DTMA_ALLOWED_ORIGINS") ?? "")
    .split(",")
    .map((o) => o.trim().replace(/\/+$/, ""))
    .filter((o) => o !== "")
  const badOrigin = origins.find((o) => !/^https?:\/\/[^/\s]+$/.test(o))
  if (badOrigin !== undefined) fail(`DTMA_ALLOWED_ORIGINS must list origins like https://app.example.com, not '${badOrigin.slice(0, 80)}'`)
  return {
    resourceUrl,
    publicHost,
    issuers: issuers.issuers,
    maxTokenTtlSeconds: number(get, fail, "DTMA_AGENT_TOKEN_MAX_TTL_S", DEFAULT_MAX_TOKEN_TTL_S, 60, 30 * 86_400),
    allowedOrigins: origins,
    ratePerSecond: number(get, fail, "DTMA_AGENT_RATE_PER_S", DEFAULT_AGENT_RATE_PER_S, 0.1, 100_000),
    burst: number(get, fail, "DTMA_AGENT_BURST", DEFAULT_AGENT_BURST, 1, 1_000_000),
  }
}
