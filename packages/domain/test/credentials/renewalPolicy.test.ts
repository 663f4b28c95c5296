import fc from "fast-check"
import { Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import { leaseOf, leaseTransition, type CredentialLease, type LeaseState } from "../../src/credentials/lease.ts"
import { nextRefreshAt, onExpiryBase, retryDelay, stateAt, type RenewalPolicy } from "../../src/credentials/renewalPolicy.ts"

const arbLease = (expires: boolean): fc.Arbitrary<CredentialLease> =>
  fc.record({ obtainedAt: fc.integer({ min: 0, max: 2 ** 40 }), lifetime: fc.integer({ min: 1, max: 30 * 86_400_000 }) }).map(({ obtainedAt, lifetime }) =>
    leaseOf(
      {
        connectionId: "c",
        provider: "github",
        scopes: ["repo"],
        accessToken: Redacted.make("tok-secret"),
        tokenType: "Bearer",
        expiresAt: expires ? obtainedAt + lifetime : null,
      },
      obtainedAt,
    ),
  )
const arbOnExpiry = fc.record({
  _tag: fc.constant("on_expiry" as const),
  lifetimeShare: fc.double({ min: 0.1, max: 0.95, noNaN: true }),
  marginMs: fc.integer({ min: 0, max: 3_600_000 }),
  jitterShare: fc.double({ min: 0, max: 0.5, noNaN: true }),
  minimumBeforeExpiryMs: fc.integer({ min: 0, max: 120_000 }),
})
const arbRandom = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })

describe("on_expiry renewal", () => {
  it("schedules every refresh before expiry, by at least the minimum, while the lifetime allows", () => {
    fc.assert(
      fc.property(arbLease(true), arbOnExpiry, arbRandom, (lease, policy, random) => {
        const at = nextRefreshAt(lease, policy, random)!
        expect(at).toBeGreaterThanOrEqual(lease.obtainedAt)
        if (lease.expiresAt! - lease.obtainedAt > policy.minimumBeforeExpiryMs) expect(at).toBeLessThanOrEqual(lease.expiresAt! - policy.minimumBeforeExpiryMs)
      }),
    )
  })

  it("keeps jitter within its share of the time to the unjittered refresh, or at the latest allowed", () => {
    fc.assert(
      fc.property(arbLease(true), arbOnExpiry, arbRandom, (lease, policy, random) => {
        const lifetime = lease.expiresAt! - lease.obtainedAt
        const base = onExpiryBase(lease.obtainedAt, lease.expiresAt!, policy)
        const spread = policy.jitterShare * (base - lease.obtainedAt)
        const deadline = lease.expiresAt! - policy.minimumBeforeExpiryMs
        const latest = deadline > lease.obtainedAt ? Math.max(base, deadline) : base
        expect(base).toBeGreaterThanOrEqual(lease.obtainedAt + Math.min((policy.lifetimeShare / 2) * lifetime, Math.max(0, deadline - lease.obtainedAt)) - 1e-6)
        const at = nextRefreshAt(lease, policy, random)!
        expect(at).toBeLessThanOrEqual(base + spread)
        expect(at).toBeGreaterThanOrEqual(Math.min(latest, Math.floor(base - spread)))
      }),
    )
  })

  it("refreshes at the earlier of the lifetime share and the margin before expiry", () => {
    const lease = leaseOf({ connectionId: "c", provider: "p", scopes: [], accessToken: Redacted.make("t"), tokenType: "Bearer", expiresAt: 3_600_000 }, 0)
    const policy = { _tag: "on_expiry", lifetimeShare: 0.8, marginMs: 300_000, jitterShare: 0, minimumBeforeExpiryMs: 0 } as const
    expect(nextRefreshAt(lease, policy, 0.5)).toBe(2_880_000)
    expect(nextRefreshAt(lease, { ...policy, marginMs: 1_200_000 }, 0.5)).toBe(2_400_000)
  })

  it("never refreshes a token shorter-lived than the margin before half its lifetime share", () => {
    const lease = leaseOf({ connectionId: "c", provider: "p", scopes: [], accessToken: Redacted.make("t"), tokenType: "Bearer", expiresAt: 20_000 }, 0)
    const policy = { _tag: "on_expiry", lifetimeShare: 0.8, marginMs: 300_000, jitterShare: 0.1, minimumBeforeExpiryMs: 30_000 } as const
    for (const random of [0, 0.5, 0.999]) {
      const at = nextRefreshAt(lease, policy, random)!
      expect(at).toBeGreaterThanOrEqual(8_000 - 800)
      expect(at).toBeLessThanOrEqual(8_000)
    }
  })

  it("never schedules a token that does not expire", () => {
    fc.assert(
      fc.property(arbLease(false), arbOnExpiry, arbRandom, (lease, policy, random) => {
        expect(nextRefreshAt(lease, policy, random)).toBeNull()
      }),
    )
  })
})

describe("periodic and on_demand renewal", () => {
  it("refreshes periodic leases one interval after each refresh", () => {
    fc.assert(
      fc.property(
        arbLease(true),
        fc.integer({ min: 1, max: 86_400_000 }),
        fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 5 }),
        arbRandom,
        (lease, intervalMs, lateness, random) => {
          const policy: RenewalPolicy = { _tag: "periodic", intervalMs }
          let current = lease
          for (const late of lateness) {
            const due = nextRefreshAt(current, policy, random)!
            expect(due - (current.refreshedAt ?? current.obtainedAt)).toBe(intervalMs)
            const started = Result.getOrThrow(leaseTransition(current, { _tag: "RefreshStarted" }))
            const credential = { connectionId: "c", provider: "github", scopes: [], accessToken: Redacted.make("t2"), tokenType: "Bearer", expiresAt: null }
            current = Result.getOrThrow(leaseTransition(started, { _tag: "RefreshSucceeded", credential, at: due + late }))
          }
        },
      ),
    )
  })

  it("never schedules on_demand leases", () => {
    fc.assert(
      fc.property(fc.oneof(arbLease(true), arbLease(false)), arbRandom, (lease, random) => {
        expect(nextRefreshAt(lease, { _tag: "on_demand" }, random)).toBeNull()
      }),
    )
  })

  it("stops scheduling a connection that needs a new sign-in or is gone", () => {
    fc.assert(
      fc.property(arbLease(true), fc.oneof(arbOnExpiry, fc.constant({ _tag: "periodic", intervalMs: 1000 } as const)), arbRandom, (lease, policy, random) => {
        const reauth = Result.getOrThrow(leaseTransition(lease, { _tag: "ReauthorizationRequired", message: "sign in" }))
        const gone = Result.getOrThrow(leaseTransition(lease, { _tag: "ConnectionMissing", message: "gone" }))
        expect([nextRefreshAt(reauth, policy, random), nextRefreshAt(gone, policy, random)]).toEqual([null, null])
      }),
    )
  })
})

describe("lease state over time", () => {
  const states: ReadonlyArray<LeaseState> = ["valid", "expiring", "refreshing", "refresh_failed", "expired"]

  it("never reports an expired token valid or expiring", () => {
    fc.assert(
      fc.property(arbLease(true), fc.constantFrom(...states), fc.integer({ min: 0, max: 2 ** 41 }), (lease, state, after) => {
        expect(stateAt({ ...lease, state }, lease.expiresAt! + after)).toBe("expired")
      }),
    )
  })

  it("reports a token valid until it comes within the expiring window", () => {
    const lease = leaseOf({ connectionId: "c", provider: "p", scopes: [], accessToken: Redacted.make("t"), tokenType: "Bearer", expiresAt: 600_000 }, 0)
    expect([stateAt(lease, 0, 60_000), stateAt(lease, 540_000, 60_000), stateAt(lease, 600_000, 60_000)]).toEqual(["valid", "expiring", "expired"])
  })
})

describe("retrying a failed refresh", () => {
  const arbRetry = fc.record({
    attempt: fc.integer({ min: 1, max: 30 }),
    random: arbRandom,
    now: fc.integer({ min: 0, max: 2 ** 40 }),
    baseDelayMs: fc.integer({ min: 1, max: 10_000 }),
  })

  it("backs off exponentially within ±20% and never waits longer than the cap allows", () => {
    fc.assert(
      fc.property(arbRetry, ({ attempt, random, now, baseDelayMs }) => {
        const policy = { baseDelayMs, maxDelayMs: 60_000 }
        const delay = retryDelay({ attempt, policy, random, now, expiresAt: null, minimumBeforeExpiryMs: 0 })
        const exponential = Math.min(60_000, baseDelayMs * 2 ** (attempt - 1))
        expect(delay).toBeGreaterThanOrEqual(Math.floor(exponential * 0.8))
        expect(delay).toBeLessThanOrEqual(Math.ceil(exponential * 1.2))
      }),
    )
  })

  it("retries before the token expires whenever there is still time", () => {
    fc.assert(
      fc.property(
        arbRetry,
        fc.integer({ min: 1, max: 120_000 }),
        fc.integer({ min: 0, max: 30_000 }),
        ({ attempt, random, now, baseDelayMs }, left, minimum) => {
          const delay = retryDelay({ attempt, policy: { baseDelayMs, maxDelayMs: 60_000 }, random, now, expiresAt: now + left, minimumBeforeExpiryMs: minimum })
          expect(delay).toBeGreaterThan(0)
          if (left > minimum) expect(now + delay).toBeLessThanOrEqual(now + left - minimum)
        },
      ),
    )
  })
})
