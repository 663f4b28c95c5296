import fc from "fast-check"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { InMemoryCredentialSource, run } from "@dtma/testing"
import { makeCredentialCache } from "../../src/credentials/CredentialCache.ts"
import { EXPIRING_WITHIN_MS } from "../../src/credentials/renewalPolicy.ts"

const LIFETIME_MS = 600_000
const request = { agentId: "agent-1", accountToolInstanceId: "ati-1", connectionIds: ["gh"], requiredScopes: [] }

type Op =
  | { readonly _tag: "refresh"; readonly outcome: "ok" | "unavailable" | "reauthorize" }
  | { readonly _tag: "get" }
  | { readonly _tag: "advance"; readonly ms: number }

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.constantFrom("ok", "unavailable", "reauthorize").map((outcome) => ({ _tag: "refresh", outcome }) as const),
  fc.constant({ _tag: "get" } as const),
  fc.integer({ min: 0, max: 400_000 }).map((ms) => ({ _tag: "advance", ms }) as const),
)

// The oracle: one connection's lease as plain data.
interface Model {
  now: number
  calls: number
  held: { expiresAt: number; failed: boolean; reauthorize: boolean } | null
}

const step = (m: Model, op: Op): void => {
  if (op._tag === "advance") m.now += op.ms
  if (op._tag === "refresh") {
    m.calls += 1
    if (op.outcome === "ok") m.held = { expiresAt: m.now + LIFETIME_MS, failed: false, reauthorize: false }
    else if (m.held !== null && op.outcome === "unavailable") m.held.failed = true
    else if (m.held !== null) m.held = { ...m.held, reauthorize: true }
  }
  if (op._tag === "get" && !m.held?.reauthorize && (m.held === null || m.now >= m.held.expiresAt)) {
    m.calls += 1
    m.held = { expiresAt: m.now + LIFETIME_MS, failed: false, reauthorize: false }
  }
}

const expectedState = (m: Model): string | undefined => {
  if (m.held === null) return undefined
  if (m.held.reauthorize) return "reauthorization_required"
  if (m.now >= m.held.expiresAt) return "expired"
  if (m.held.failed) return "refresh_failed"
  return m.held.expiresAt - m.now <= EXPIRING_WITHIN_MS ? "expiring" : "valid"
}

describe("CredentialCache against a model", () => {
  it("agrees with the model on every lease state and every backend call", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbOp, { maxLength: 25 }), async (ops) => {
        const source = new InMemoryCredentialSource({ lifetimeMs: LIFETIME_MS })
        source.connect("gh", { provider: "github", scopes: ["repo"] })
        const cache = makeCredentialCache({ source })
        const model: Model = { now: 0, calls: 0, held: null }
        await run(
          Effect.gen(function* () {
            for (const op of ops) {
              if (op._tag === "advance") yield* TestClock.adjust(op.ms)
              if (op._tag === "get") yield* Effect.ignore(cache.get(request))
              if (op._tag === "refresh") {
                if (op.outcome === "unavailable") source.failNext("unavailable")
                if (op.outcome === "reauthorize") source.requireReauthorization("gh")
                yield* Effect.ignore(cache.refresh(["gh"], request))
                source.connect("gh", { provider: "github", scopes: ["repo"] })
              }
              step(model, op)
              const lease = yield* cache.lease("gh")
              expect(lease?.state).toBe(expectedState(model))
              expect(source.calls).toHaveLength(model.calls)
            }
          }).pipe(Effect.provide(TestClock.layer())),
        )
      }),
      { numRuns: 200 },
    )
  })
})
