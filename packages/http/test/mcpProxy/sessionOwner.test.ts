import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { isRevoked, noRevocations, revokeAgent, revokeToken, type AgentIdentity, type CallerIdentity, type Revocation } from "@dtma/domain"
import { owns, revokes, sessionOwnerOf } from "../../src/mcpProxy/sessionOwner.ts"

// Small alphabets, so that callers and revocations meet often.
const arbSub = fc.constantFrom("agent-1", "agent-2")
const arbIssuer = fc.constantFrom("https://a.example", "https://b.example")
const arbJti = fc.constantFrom("j1", "j2", "j3")
const arbTime = fc.integer({ min: 0, max: 5 }).map((s) => s * 1000)

const arbAgent: fc.Arbitrary<AgentIdentity> = fc.record({
  kind: fc.constant("agent" as const),
  sub: arbSub,
  jti: fc.option(arbJti, { nil: null }),
  issuer: arbIssuer,
  issuedAt: arbTime,
  expiresAt: fc.constant(10_000),
  grants: fc.constant([]),
})
const arbCaller: fc.Arbitrary<CallerIdentity> = fc.oneof(
  arbAgent,
  fc.constantFrom("f1", "f2").map((fingerprint) => ({ kind: "operator" as const, fingerprint })),
)

const arbRevocation: fc.Arbitrary<Revocation> = fc.oneof(
  fc.record({ kind: fc.constant("agent" as const), agentId: arbSub, revokedAt: fc.integer({ min: 0, max: 5_999 }) }),
  fc.record({ kind: fc.constant("token" as const), tokenId: arbJti, revokedAt: arbTime }),
)

describe("a client session's owner", () => {
  it("is served whichever of its credentials it presents, and nobody else is", () => {
    fc.assert(
      fc.property(arbCaller, arbCaller, (opener, caller) => {
        const same =
          opener.kind === "operator" ? caller.kind === "operator" : caller.kind === "agent" && caller.sub === opener.sub && caller.issuer === opener.issuer
        expect(owns(sessionOwnerOf(opener), caller)).toBe(same)
      }),
    )
  })
})

describe("a revocation", () => {
  it("ends an agent's session exactly when the verifier would refuse the token that last authorized it, or any token it was used with", () => {
    fc.assert(
      fc.property(fc.array(arbAgent, { minLength: 1, maxLength: 4 }), arbRevocation, (tokens, revocation) => {
        const sub = tokens[0]!.sub
        const used = tokens.map((t) => ({ ...t, sub }))
        const last = used[used.length - 1]!
        const jtis = new Set(used.flatMap((t) => (t.jti === null ? [] : [t.jti])))
        const revoked =
          revocation.kind === "agent" ? revokeAgent(noRevocations, revocation.agentId, revocation.revokedAt) : revokeToken(noRevocations, revocation.tokenId, 0)
        const refused = revocation.kind === "agent" ? isRevoked(revoked, last) : used.some((t) => isRevoked(revoked, t))
        expect(revokes(revocation, { sub, issuedAt: last.issuedAt, jtis })).toBe(refused)
      }),
    )
  })
})
