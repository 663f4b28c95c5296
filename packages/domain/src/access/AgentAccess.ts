import type * as Effect from "effect/Effect"
import type { AccessTokens, TokenRefused } from "../ports/AccessTokens.ts"
import type { AgentTokenIssuer, IssuedToken, InvalidTokenRequest, IssuerKeysFailed, JsonWebKeySet, TokenRequest } from "../ports/AgentTokenIssuer.ts"
import type { RevocationStoreFailed } from "../ports/RevocationStore.ts"
import { token, type Token } from "../Token.ts"
import type { AgentIdentity } from "./AgentIdentity.ts"
import type { AgentRevocations, InvalidRevocation, Revocation } from "./AgentRevocations.ts"

/** Who may call what: agents' tokens verified, issued by the DTMA itself, and revoked. */
export interface AgentAccess {
  /** The issuers whose tokens are accepted, the built-in one first. */
  readonly issuers: ReadonlyArray<string>
  /** The agent a bearer token speaks for (see `AccessTokens.verify`). */
  verify(token: Parameters<AccessTokens["verify"]>[0]): Effect.Effect<AgentIdentity, TokenRefused>
  /** `verify`'s answer when the token was verified before and is still held; undefined when not (see `AccessTokens.verifyKnown`). */
  verifyKnown: AccessTokens["verifyKnown"]
  /** A token signed by the built-in issuer; its value appears only in this answer. */
  issue(request: TokenRequest): Effect.Effect<IssuedToken, InvalidTokenRequest>
  /** The built-in issuer's public keys. */
  jwks(): Effect.Effect<JsonWebKeySet>
  /** The built-in issuer signs with a new key from now on; the old one verifies until its last token expires. */
  rotate(): Effect.Effect<{ readonly kid: string }, IssuerKeysFailed>
  revokeAgent(agentId: string): Effect.Effect<Revocation, InvalidRevocation | RevocationStoreFailed>
  revokeToken(tokenId: string): Effect.Effect<Revocation, InvalidRevocation | RevocationStoreFailed>
  /** Calls `listener` after each revocation; returns the unsubscribe. */
  onRevoked(listener: (revocation: Revocation) => void): () => void
}

export const AgentAccess: Token<AgentAccess> = token("dtma/AgentAccess")

/** The agent-access use case over its ports: a verifier, the built-in issuer and the revocations both consult. */
export const makeAgentAccess = (deps: {
  readonly tokens: AccessTokens
  readonly issuer: AgentTokenIssuer
  readonly revocations: AgentRevocations
  /** External issuers' ids, after the built-in one. */
  readonly externalIssuers: ReadonlyArray<string>
}): AgentAccess => ({
  issuers: [deps.issuer.issuer, ...deps.externalIssuers],
  verify: (t) => deps.tokens.verify(t),
  verifyKnown: (t, now) => deps.tokens.verifyKnown(t, now),
  issue: (request) => deps.issuer.issue(request),
  jwks: () => deps.issuer.jwks(),
  rotate: () => deps.issuer.rotate(),
  revokeAgent: (agentId) => deps.revocations.revokeAgent(agentId),
  revokeToken: (tokenId) => deps.revocations.revokeToken(tokenId),
  onRevoked: (listener) => deps.revocations.onRevoked(listener),
})
