import { describe, expect, it } from "vitest"
import { alternating } from "../lib/load.ts"

describe("measuring two arms in turns", () => {
  it("runs them in rounds whose first arm alternates, pooling each arm's samples and errors", async () => {
    const ran: Array<string> = []
    const arm = (name: string, fails: boolean) => async () => {
      if (ran.at(-1) !== name) ran.push(name)
      await new Promise((resolve) => setTimeout(resolve, 1))
      if (fails) throw new Error(`${name} failed`)
    }
    let started = 0
    const probe = () => (started++, () => 1)
    const result = await alternating({ a: [arm("a", false)], b: [arm("b", true), arm("b", false)] }, { warmupMs: 5, segmentMs: 20, rounds: 4, probe })

    // Warm-ups, then rounds: a b | b a | a b | b a.
    expect(ran).toEqual(["a", "b", "a", "b", "a", "b", "a"])
    expect(result.rounds).toBe(4)
    expect([result.a.clients, result.b.clients]).toEqual([1, 2])
    expect(result.a.latencyMs.n).toBeGreaterThan(0)
    expect(result.a.errors).toBe(0)
    expect(result.b.errors).toBeGreaterThan(0)
    expect(result.b.firstError).toBe("Error: b failed")
    expect(Number.isFinite(result.medianRoundDifferenceMs)).toBe(true)
    // Probed around each measured segment (not the warm-ups), summed per arm.
    expect(started).toBe(8)
    expect(result.probed).toEqual({ a: 4, b: 4 })
  })
})
