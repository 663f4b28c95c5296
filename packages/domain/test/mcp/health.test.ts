import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { healthTransition, type HealthEvent, type HealthStatus } from "../../src/mcp/health.ts"
import { decideRestart, defaultRestartPolicy, nextPingDelay } from "../../src/mcp/restartPolicy.ts"

const statuses: ReadonlyArray<HealthStatus> = ["starting", "healthy", "degraded", "unhealthy", "stopping", "stopped"]
const arbStatus = fc.constantFrom(...statuses)
const arbEvent: fc.Arbitrary<HealthEvent> = fc.oneof(
  fc.constantFrom("Ready", "PingSucceeded", "Disconnected", "ContainerDied", "Restarting", "GaveUp", "StopRequested", "Stopped").map((_tag) => ({ _tag }) as HealthEvent),
  fc.integer({ min: 1, max: 6 }).map((consecutive) => ({ _tag: "PingFailed" as const, consecutive })),
)

describe("MCP server health", () => {
  it("never lets a stopping or stopped server become healthy or restart without a new start", () => {
    fc.assert(
      fc.property(fc.constantFrom<HealthStatus>("stopping", "stopped"), arbEvent, (from, event) => {
        const next = healthTransition(from, event)
        if (Result.isSuccess(next)) expect(["stopping", "stopped"]).toContain(next.success)
      }),
    )
  })

  it("can always be stopped", () => {
    fc.assert(
      fc.property(arbStatus, (from) => {
        const stopping = healthTransition(from, { _tag: "StopRequested" })
        expect(Result.isSuccess(stopping)).toBe(true)
        expect(healthTransition(Result.getOrThrow(stopping), { _tag: "Stopped" })).toEqual(Result.succeed("stopped"))
      }),
    )
  })

  it("degrades on a failed ping and becomes unhealthy after three in a row", () => {
    expect(healthTransition("healthy", { _tag: "PingFailed", consecutive: 1 })).toEqual(Result.succeed("degraded"))
    expect(healthTransition("degraded", { _tag: "PingFailed", consecutive: 2 })).toEqual(Result.succeed("degraded"))
    expect(healthTransition("degraded", { _tag: "PingFailed", consecutive: 3 })).toEqual(Result.succeed("unhealthy"))
    expect(healthTransition("degraded", { _tag: "PingSucceeded" })).toEqual(Result.succeed("healthy"))
  })

  it("goes through starting to healthy when a crashed server is restarted", () => {
    const died = Result.getOrThrow(healthTransition("healthy", { _tag: "ContainerDied" }))
    const restarting = Result.getOrThrow(healthTransition(died, { _tag: "Restarting" }))
    expect([died, restarting, Result.getOrThrow(healthTransition(restarting, { _tag: "Ready" }))]).toEqual(["unhealthy", "starting", "healthy"])
  })
})

describe("restart policy", () => {
  const policy = defaultRestartPolicy

  it("backs off exponentially, capped, while crashes stay under the limit", () => {
    const delays = [1, 2, 3, 4].map((n) => decideRestart(Array.from({ length: n }, (_, i) => i * 1000), 4000, policy))
    expect(delays).toEqual([500, 1000, 2000, 4000].map((delayMs) => ({ _tag: "Restart", delayMs })))
    expect(decideRestart([0], 0, { ...policy, baseDelayMs: 20_000 })).toEqual({ _tag: "Restart", delayMs: 20_000 })
    expect(decideRestart([0, 1, 2, 3], 3, { ...policy, baseDelayMs: 20_000 })).toEqual({ _tag: "Restart", delayMs: 30_000 })
  })

  it("gives up with a reason once a server crash-loops, and forgets crashes outside the window", () => {
    const loop = [0, 100, 200, 300, 400]
    expect(decideRestart(loop, 500, policy)).toMatchObject({ _tag: "GiveUp", reason: expect.stringContaining("crashed 5 times within 120 s") })
    expect(decideRestart(loop, 500 + policy.windowMs, policy)).toEqual({ _tag: "Restart", delayMs: 500 })
  })

  it("never restarts more than maxCrashes times within the window, whatever the crash times", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300_000 }), { maxLength: 50 }).map((xs) => xs.sort((a, b) => a - b)), (times) => {
        const crashes: Array<number> = []
        for (const at of times) {
          crashes.push(at)
          const decision = decideRestart(crashes, at, policy)
          const inWindow = crashes.filter((c) => at - c < policy.windowMs).length
          expect(decision._tag).toBe(inWindow >= policy.maxCrashes ? "GiveUp" : "Restart")
        }
      }),
    )
  })

  it("spreads pings with jitter and slows them down for stable servers", () => {
    fc.assert(
      fc.property(fc.nat({ max: 1000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (ok, random) => {
        const delay = nextPingDelay({ consecutiveOk: ok, baseMs: 5000, maxMs: 60_000, random })
        expect(delay).toBeGreaterThanOrEqual(4000)
        expect(delay).toBeLessThanOrEqual(72_000)
      }),
    )
    expect(nextPingDelay({ consecutiveOk: 0, baseMs: 5000, maxMs: 60_000, random: 0.5 })).toBe(5000)
    expect(nextPingDelay({ consecutiveOk: 100, baseMs: 5000, maxMs: 60_000, random: 0.5 })).toBe(60_000)
  })
})
