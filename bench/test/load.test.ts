import { describe, expect, it } from "vitest"
import { alternating, closedLoop } from "../lib/load.ts"

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

describe("a closed loop with a probe", () => {
  it("starts the probe when the measured window opens and reads it when the window closes", async () => {
    const events: Array<string> = []
    let sequence = 0
    const operation = async () => {
      sequence++
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    const probe = () => {
      events.push(`open after ${sequence}`)
      const from = sequence
      return () => {
        events.push("read")
        return sequence - from
      }
    }
    const result = await closedLoop([operation], { warmupMs: 20, durationMs: 40, probe })

    expect(events).toHaveLength(2)
    expect(events[1]).toBe("read")
    // Opened after the warm-up's operations, not before them.
    expect(Number(/open after (\d+)/.exec(events[0] ?? "")?.[1])).toBeGreaterThan(0)
    // What ran between the two ends: about the measured calls, never the warm-up's.
    expect(result.probed).toBeGreaterThanOrEqual(result.latencyMs.n)
    expect(result.probed).toBeLessThanOrEqual(result.latencyMs.n + 2)
  })

  it("leaves the result unprobed without a probe", async () => {
    const result = await closedLoop([async () => undefined], { warmupMs: 0, durationMs: 5 })

    expect(result.probed).toBeUndefined()
  })
})
