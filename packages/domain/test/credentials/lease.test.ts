import fc from "fast-check"
import { Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import { leaseOf, leaseTransition, type CredentialLease, type LeaseEvent } from "../../src/credentials/lease.ts"

const arbLease: fc.Arbitrary<CredentialLease> = fc
  .record({ obtainedAt: fc.integer({ min: 0, max: 2 ** 40 }), lifetime: fc.integer({ min: 1, max: 30 * 86_400_000 }) })
  .map(({ obtainedAt, lifetime }) =>
    leaseOf(
      {
        connectionId: "c",
        provider: "github",
        scopes: ["repo"],
        accessToken: Redacted.make("tok-secret"),
        tokenType: "Bearer",
        expiresAt: obtainedAt + lifetime,
      },
      obtainedAt,
    ),
  )

describe("lease transitions", () => {
  const arbEvent: fc.Arbitrary<LeaseEvent> = fc.constantFrom<LeaseEvent>(
    { _tag: "RefreshStarted" },
    { _tag: "RefreshFailed", reason: "unavailable", message: "down" },
    { _tag: "ReauthorizationRequired", message: "sign in" },
    { _tag: "Expired" },
    { _tag: "ConnectionMissing", message: "gone" },
  )

  it("never puts a token into a lease's JSON or its last error", () => {
    fc.assert(
      fc.property(arbLease, fc.array(arbEvent, { maxLength: 8 }), (lease, events) => {
        const end = events.reduce((l, e) => Result.getOrElse(leaseTransition(l, e), () => l), lease)
        expect(JSON.stringify(end)).not.toContain("tok-secret")
        expect(end.lastError ?? "").not.toContain("tok-secret")
      }),
    )
  })

  it("obtains a connection without a token again instead of refreshing it in place", () => {
    fc.assert(
      fc.property(arbLease, (lease) => {
        const gone = Result.getOrThrow(leaseTransition(lease, { _tag: "ConnectionMissing", message: "gone" }))
        expect(Result.isFailure(leaseTransition(gone, { _tag: "RefreshStarted" }))).toBe(true)
        const credential = { connectionId: "c", provider: "github", scopes: [], accessToken: Redacted.make("new"), tokenType: "Bearer", expiresAt: null }
        expect(Result.getOrThrow(leaseTransition(gone, { _tag: "Obtained", credential, at: 5 }))).toMatchObject({
          state: "valid",
          obtainedAt: 5,
          lastError: null,
        })
      }),
    )
  })

  it("refuses to finish a refresh that never started, or to start one twice", () => {
    fc.assert(
      fc.property(arbLease, (lease) => {
        expect(Result.isFailure(leaseTransition(lease, { _tag: "RefreshFailed", reason: "timeout", message: "slow" }))).toBe(true)
        const refreshing = Result.getOrThrow(leaseTransition(lease, { _tag: "RefreshStarted" }))
        expect(leaseTransition(refreshing, { _tag: "RefreshStarted" })).toMatchObject({ failure: { _tag: "IllegalTransition", from: "refreshing" } })
      }),
    )
  })

  it("keeps the old token when a refresh fails and drops it when the user must sign in again", () => {
    fc.assert(
      fc.property(arbLease, (lease) => {
        const refreshing = Result.getOrThrow(leaseTransition(lease, { _tag: "RefreshStarted" }))
        const failed = Result.getOrThrow(leaseTransition(refreshing, { _tag: "RefreshFailed", reason: "unavailable", message: "down" }))
        expect(failed).toMatchObject({ state: "refresh_failed", token: lease.token, lastError: "down" })
        expect(Result.getOrThrow(leaseTransition(refreshing, { _tag: "ReauthorizationRequired", message: "m" }))).toMatchObject({
          state: "reauthorization_required",
          token: null,
        })
      }),
    )
  })
})
