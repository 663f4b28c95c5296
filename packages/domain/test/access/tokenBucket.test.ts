import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { fullBucket, isBucketFull, takeFromBucket, type Bucket, type Rate } from "../../src/access/tokenBucket.ts"

const rates = fc.record({ perSecond: fc.double({ min: 0.1, max: 1000, noNaN: true }), burst: fc.integer({ min: 1, max: 500 }) })
/** Request times as gaps in ms, each with a cost. */
const requests = fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 5000 }), cost: fc.integer({ min: 1, max: 20 }) }), { maxLength: 200 })

const run = (rate: Rate, steps: ReadonlyArray<{ gapMs: number; cost: number }>) => {
  let bucket: Bucket = fullBucket(rate, 0)
  let now = 0
  const outcomes: Array<{ now: number; cost: number; allowed: boolean; retryAfterMs?: number }> = []
  for (const { gapMs, cost } of steps) {
    now += gapMs
    const taken = takeFromBucket(bucket, rate, now, cost)
    bucket = taken.bucket
    outcomes.push(taken.allowed ? { now, cost, allowed: true } : { now, cost, allowed: false, retryAfterMs: taken.retryAfterMs })
  }
  return { outcomes, bucket, now }
}

describe("the token bucket", () => {
  it("never lets through more than the burst plus the rate over any stretch of time", () => {
    fc.assert(
      fc.property(rates, requests, (rate, steps) => {
        const { outcomes } = run(rate, steps)
        const allowed = outcomes.filter((o) => o.allowed)
        for (let i = 0; i < allowed.length; i++) {
          let spent = 0
          for (let j = i; j < allowed.length; j++) {
            spent += Math.min(allowed[j]!.cost, rate.burst)
            const window = allowed[j]!.now - allowed[i]!.now
            expect(spent).toBeLessThanOrEqual(rate.burst + (window * rate.perSecond) / 1000 + 1e-6)
          }
        }
      }),
    )
  })

  it("lets a full burst through at once from a full bucket, and refuses the next", () => {
    fc.assert(
      fc.property(rates, (rate) => {
        const { outcomes } = run(rate, [...Array.from({ length: rate.burst }, () => ({ gapMs: 0, cost: 1 })), { gapMs: 0, cost: 1 }])
        expect(outcomes.slice(0, rate.burst).every((o) => o.allowed)).toBe(true)
        expect(outcomes.at(-1)!.allowed).toBe(false)
      }),
    )
  })

  const retryAfterHolds = (rate: Rate, steps: ReadonlyArray<{ gapMs: number; cost: number }>) => {
    const { outcomes, bucket, now } = run(rate, steps)
    const last = outcomes.at(-1)
    if (last === undefined || last.allowed) return
    expect(takeFromBucket(bucket, rate, now + last.retryAfterMs!, last.cost).allowed).toBe(true)
    if (last.retryAfterMs! > 1) expect(takeFromBucket(bucket, rate, now + last.retryAfterMs! - 1, last.cost).allowed).toBe(false)
  }

  it("lets a refused request through once its retry-after has passed", () => {
    fc.assert(fc.property(rates, requests, retryAfterHolds))
  })

  it("lets it through at its retry-after even when the refills' floating-point sum falls a hair short (a seed CI found)", () => {
    fc.assert(fc.property(rates, requests, retryAfterHolds), { seed: 1997222324, numRuns: 100 })
  })

  it("refills nothing when the clock goes back, and is full again after burst / rate seconds", () => {
    const rate = { perSecond: 10, burst: 5 }
    const empty = { tokens: 0, at: 1000 }
    expect(takeFromBucket(empty, rate, 500).allowed).toBe(false)
    expect(isBucketFull(empty, rate, 1499)).toBe(false)
    expect(isBucketFull(empty, rate, 1500)).toBe(true)
  })

  it("charges a cost above the burst as the burst, so a large batch can still pass", () => {
    const rate = { perSecond: 1, burst: 3 }
    expect(takeFromBucket(fullBucket(rate, 0), rate, 0, 50)).toEqual({ allowed: true, bucket: { tokens: 0, at: 0 } })
  })
})
