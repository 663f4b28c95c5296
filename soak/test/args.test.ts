import { describe, expect, it } from "vitest"
import { parseArgs, parseDuration } from "../src/args.ts"
import { sessionLost } from "../src/clientPool.ts"

describe("pnpm soak's arguments", () => {
  it("reads durations in hours, minutes, seconds, their sums and plain seconds", () => {
    expect([parseDuration("10m"), parseDuration("90s"), parseDuration("1h"), parseDuration("2m30s"), parseDuration("45")]).toEqual([
      600_000, 90_000, 3_600_000, 150_000, 45_000,
    ])
  })

  it("refuses what is not a duration", () => {
    expect([parseDuration("ten"), parseDuration("10x"), parseDuration("m10"), parseDuration("")]).toEqual([null, null, null, null])
  })

  it("defaults to two minutes and soak/results, and refuses flags, extra arguments and runs under 20 s", () => {
    expect(parseArgs([], {}, "out")).toEqual({ durationMs: 120_000, outDir: "out" })
    expect(parseArgs(["--", "10m"], { SOAK_OUT_DIR: "/tmp/x" }, "out")).toEqual({ durationMs: 600_000, outDir: "/tmp/x" })
    for (const argv of [["--fast"], ["1m", "2m"], ["5s"], ["soon"]]) expect(typeof parseArgs(argv, {}, "out")).toBe("string")
  })
})

describe("a client's session", () => {
  it("is lost when the DTMA answers 404 Session not found, and kept on other failures", () => {
    expect(sessionLost(Object.assign(new Error("Streamable HTTP error"), { code: 404 }))).toBe(true)
    expect(sessionLost(new Error('Error POSTing to endpoint: {"error":{"code":-32001,"message":"Session not found"}}'))).toBe(true)
    expect(sessionLost(new Error("fetch failed"))).toBe(false)
    expect(sessionLost(Object.assign(new Error("unhealthy"), { code: 503 }))).toBe(false)
  })
})
