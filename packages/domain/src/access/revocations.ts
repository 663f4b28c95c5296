/**
 * Which agent tokens the operator has revoked, as plain data (no secret in it: agent ids, token ids
 * and times). Pure: the time is always an argument.
 *
 * Decisions:
 * - Revoking an agent refuses every token whose `iat` second began at or before the revocation
 *   (`iat * 1000 <= revokedAt`). `iat` has one-second precision, so a token minted in the same
 *   second as the revocation, just after it, is refused too: the unsafe alternative would let a
 *   token minted just before it through.
 * - An agent is its `sub`, whatever the issuer, and a token its `jti`, whatever the issuer:
 *   revoking one name revokes every token carrying it. Revoking more than meant is the safe side.
 * - A revocation is forgotten once no token it refuses can still be accepted: every accepted token
 *   lives at most the maximum lifetime and was issued no later than the leeway after the
 *   revocation, so after `revokedAt + maxLifetime + 2 × leeway` nothing it names is valid anyway.
 * - Revoking again keeps the later time (an agent revoked twice refuses everything before the second).
 */
export interface Revocations {
  /** Agent id → when it was revoked (unix ms). */
  readonly agents: ReadonlyMap<string, number>
  /** Token id → when it was revoked (unix ms). */
  readonly tokens: ReadonlyMap<string, number>
}

/** The serialisable form a `RevocationStore` keeps. */
export interface RevocationsSnapshot {
  readonly agents: ReadonlyArray<{ readonly agentId: string; readonly revokedAt: number }>
  readonly tokens: ReadonlyArray<{ readonly tokenId: string; readonly revokedAt: number }>
}

/** What a revocation check needs to know of a verified token. */
export interface RevocationSubject {
  readonly sub: string
  readonly jti: string | null
  /** The token's `iat`, unix ms. */
  readonly issuedAt: number
}

/** How long revocations must be kept: the longest a token may live, and the clock leeway. */
export interface RevocationWindow {
  readonly maxTokenLifetimeMs: number
  readonly leewayMs: number
}

export const noRevocations: Revocations = { agents: new Map(), tokens: new Map() }

const later = (map: ReadonlyMap<string, number>, key: string, at: number): ReadonlyMap<string, number> =>
  new Map(map).set(key, Math.max(at, map.get(key) ?? at))

export const revokeAgent = (r: Revocations, agentId: string, at: number): Revocations => ({ ...r, agents: later(r.agents, agentId, at) })

export const revokeToken = (r: Revocations, tokenId: string, at: number): Revocations => ({ ...r, tokens: later(r.tokens, tokenId, at) })

export const isRevoked = (r: Revocations, token: RevocationSubject): boolean => {
  const agentRevokedAt = r.agents.get(token.sub)
  if (agentRevokedAt !== undefined && token.issuedAt <= agentRevokedAt) return true
  return token.jti !== null && r.tokens.has(token.jti)
}

/** When a revocation made at `revokedAt` may be forgotten (unix ms). */
export const forgetAfter = (revokedAt: number, window: RevocationWindow): number => revokedAt + window.maxTokenLifetimeMs + 2 * window.leewayMs

const kept = (map: ReadonlyMap<string, number>, now: number, window: RevocationWindow): ReadonlyMap<string, number> =>
  new Map([...map].filter(([, at]) => now < forgetAfter(at, window)))

/** The revocations that can still refuse a token at `now`. */
export const forgetExpired = (r: Revocations, now: number, window: RevocationWindow): Revocations => ({
  agents: kept(r.agents, now, window),
  tokens: kept(r.tokens, now, window),
})

export const snapshotOf = (r: Revocations): RevocationsSnapshot => ({
  agents: [...r.agents].map(([agentId, revokedAt]) => ({ agentId, revokedAt })),
  tokens: [...r.tokens].map(([tokenId, revokedAt]) => ({ tokenId, revokedAt })),
})

export const revocationsOf = (snapshot: RevocationsSnapshot): Revocations => ({
  agents: snapshot.agents.reduce((m, a) => later(m, a.agentId, a.revokedAt), new Map<string, number>() as ReadonlyMap<string, number>),
  tokens: snapshot.tokens.reduce((m, t) => later(m, t.tokenId, t.revokedAt), new Map<string, number>() as ReadonlyMap<string, number>),
})
