import type { CallerIdentity, Revocation } from "@dtma/domain"

/** Who a client session belongs to: the operator (whichever of its keys), or one agent of one issuer. */
export type SessionOwner = { readonly kind: "operator" } | { readonly kind: "agent"; readonly issuer: string; readonly sub: string }

export const sessionOwnerOf = (caller: CallerIdentity): SessionOwner =>
  caller.kind === "operator" ? { kind: "operator" } : { kind: "agent", issuer: caller.issuer, sub: caller.sub }

/** Whether `caller` may use a session `owner` opened: any operator key an operator's, the same issuer and agent id an agent's. */
export const owns = (owner: SessionOwner, caller: CallerIdentity): boolean =>
  owner.kind === "operator" ? caller.kind === "operator" : caller.kind === "agent" && caller.issuer === owner.issuer && caller.sub === owner.sub

/** What an agent's session keeps of the tokens that authorized it. */
export interface SessionTokens {
  readonly sub: string
  /** The `iat` (unix ms) of the token that last authorized it. */
  readonly issuedAt: number
  /** Every `jti` it was opened or used with. */
  readonly jtis: ReadonlySet<string>
}

/**
 * Whether a revocation ends the session: its agent's, when the token that last authorized it was
 * issued no later than the revocation (the rule `revocations.ts` refuses tokens by: an agent is its
 * `sub`, whatever the issuer); a token's, when the session was ever opened or used with it.
 */
export const revokes = (revocation: Revocation, tokens: SessionTokens): boolean =>
  revocation.kind === "agent" ? revocation.agentId === tokens.sub && tokens.issuedAt <= revocation.revokedAt : tokens.jtis.has(revocation.tokenId)
