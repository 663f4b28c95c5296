import type { Grants } from "./grants.ts"

/** An agent, as a verified access token says it is. Holds no token. */
export interface AgentIdentity {
  readonly kind: "agent"
  /** The agent id: the token's `sub`, 1–128 characters. */
  readonly sub: string
  /** The token id (`jti`), for audit and revocation; null when an external issuer set none. */
  readonly jti: string | null
  /** The token's `iss`: one of the configured issuers. */
  readonly issuer: string
  /** The token's `iat`, unix ms. */
  readonly issuedAt: number
  /** The token's `exp`, unix ms (before leeway). */
  readonly expiresAt: number
  readonly grants: Grants
}

/** The operator: a caller holding an inbound key, known by a fingerprint of it, never the key. */
export interface OperatorIdentity {
  readonly kind: "operator"
  readonly fingerprint: string
}

export type CallerIdentity = AgentIdentity | OperatorIdentity

export const MAX_AGENT_ID_LENGTH = 128
export const MAX_TOKEN_ID_LENGTH = 256

/** What is wrong with an agent id (a token's `sub`), or null. */
export const agentIdProblem = (sub: unknown): string | null => {
  if (typeof sub !== "string") return "must be a string"
  if (sub.length === 0 || sub.length > MAX_AGENT_ID_LENGTH) return `must be 1 to ${MAX_AGENT_ID_LENGTH} characters`
  return null
}

/** What is wrong with a token id (a token's `jti`), or null. */
export const tokenIdProblem = (jti: unknown): string | null => {
  if (typeof jti !== "string") return "must be a string"
  if (jti.length === 0 || jti.length > MAX_TOKEN_ID_LENGTH) return `must be 1 to ${MAX_TOKEN_ID_LENGTH} characters`
  return null
}
