import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { forgetExpired, isRevoked, noRevocations, revocationsOf, revokeAgent, revokeToken, snapshotOf, type Revocations } from "../../src/access/revocations.ts"

const window = { maxTokenLifetimeMs: 86_400_000, leewayMs: 30_000 }
const T = 1_780_000_000_000
const arbSecond = fc.integer({ min: 1_779_000_000, max: 1_781_000_000 })
const arbId = fc.constantFrom("a", "b", "c")

type Op = { readonly kind: "agent" | "token"; readonly id: string; readonly at: number }
const arbOps = fc.array(fc.record({ kind: fc.constantFrom("agent" as const, "token" as const), id: arbId, at: arbSecond.map((s) => s * 1000 + 123) }), {
  maxLength: 6,
})
const applied = (ops: ReadonlyArray<Op>): Revocations =>
  ops.reduce((r, op) => (op.kind === "agent" ? revokeAgent(r, op.id, op.at) : revokeToken(r, op.id, op.at)), noRevocations)

describe("revocations", () => {
  it("refuse an agent's tokens whose iat second began at or before the revocation, and no later one", () => {
    fc.assert(
      fc.property(arbSecond, fc.integer({ min: 0, max: 999 }), (second, ms) => {
        const r = revokeAgent(noRevocations, "agent-1", second * 1000 + ms)
        expect(isRevoked(r, { sub: "agent-1", jti: null, issuedAt: second * 1000 })).toBe(true)
        expect(isRevoked(r, { sub: "agent-1", jti: null, issuedAt: (second - 60) * 1000 })).toBe(true)
        expect(isRevoked(r, { sub: "agent-1", jti: null, issuedAt: (second + 1) * 1000 })).toBe(false)
        expect(isRevoked(r, { sub: "agent-2", jti: null, issuedAt: second * 1000 })).toBe(false)
      }),
    )
  })

  it("refuse a revoked token id whoever's token it is, and never a token without one", () => {
    const r = revokeToken(noRevocations, "tok-1", T)
    expect(isRevoked(r, { sub: "anyone", jti: "tok-1", issuedAt: T + 5_000 })).toBe(true)
    expect(isRevoked(r, { sub: "anyone", jti: "tok-2", issuedAt: T - 5_000 })).toBe(false)
    expect(isRevoked(r, { sub: "anyone", jti: null, issuedAt: T - 5_000 })).toBe(false)
  })

  it("keep the later time when an agent is revoked again", () => {
    const r = revokeAgent(revokeAgent(noRevocations, "a", T + 10_000), "a", T)
    expect(isRevoked(r, { sub: "a", jti: null, issuedAt: T + 5_000 })).toBe(true)
  })

  it("are never forgotten while a token they refuse could still be accepted", () => {
    const maxS = window.maxTokenLifetimeMs / 1000
    const leewayS = window.leewayMs / 1000
    fc.assert(
      fc.property(
        arbOps,
        fc.constantFrom("agent" as const, "token" as const),
        // The revoked token: issued up to a lifetime before the revocation, or up to the leeway after it
        // by an issuer whose clock runs ahead (a token id is revoked only once the token exists).
        fc.integer({ min: -maxS - leewayS, max: leewayS }),
        fc.integer({ min: 1, max: maxS }),
        // How long before the token stops being accepted we look (its last accepted millisecond, and earlier).
        fc.integer({ min: 0, max: window.maxTokenLifetimeMs }),
        (ops, kind, iatOffsetS, lifetimeS, before) => {
          const revokedAt = T + 123
          const iatS = Math.floor(revokedAt / 1000) + (kind === "agent" ? Math.min(0, iatOffsetS) : iatOffsetS)
          const token = { sub: "x", jti: "x", issuedAt: iatS * 1000 }
          const r = kind === "agent" ? revokeAgent(applied(ops), "x", revokedAt) : revokeToken(applied(ops), "x", revokedAt)
          expect(isRevoked(r, token)).toBe(true)
          const now = (iatS + lifetimeS) * 1000 + window.leewayMs - 1 - before
          if (now >= revokedAt) expect(isRevoked(forgetExpired(r, now, window), token)).toBe(true)
        },
      ),
      { numRuns: 1000 },
    )
  })

  it("are forgotten once the longest-lived token they could refuse has expired", () => {
    const r = revokeToken(revokeAgent(noRevocations, "a", T), "tok", T)
    const end = T + window.maxTokenLifetimeMs + 2 * window.leewayMs
    expect(forgetExpired(r, end - 1, window)).toEqual(r)
    expect(forgetExpired(r, end, window)).toEqual(noRevocations)
  })

  it("survive being written as a snapshot and read back", () => {
    fc.assert(
      fc.property(arbOps, (ops) => {
        const r = applied(ops)
        expect(revocationsOf(JSON.parse(JSON.stringify(snapshotOf(r))))).toEqual(r)
      }),
    )
  })
})
