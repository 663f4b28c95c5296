import { describe, expect, it } from "vitest"
import { classify, explainedByKind, medianMax, recoveryByKind, windowsOf } from "../src/classify.ts"
import type { Failure } from "../src/clientPool.ts"
import type { FaultRecord } from "../src/faults/types.ts"

const failure = (server: string, start: number, end = start + 10): Failure => ({ server, client: 0, what: "call", start, end, error: "x", sessionSince: 0 })
const notFound = (sessionSince: number, start: number): Failure => ({
  ...failure("a", start),
  error: 'Error: {"code":-32001,"message":"Session not found"}',
  sessionSince,
})
const kill = (target: string, injectedAt: number, recoveredAt: number | null): FaultRecord => ({
  kind: "docker-kill",
  target,
  injectedAt,
  affected: [{ server: target, recoveredAt }],
  detail: "",
})

describe("windows and lost calls", () => {
  const windows = windowsOf([kill("a", 1_000, 3_000)], 500, 60_000)

  it("explains a failure of the faulted server from its injection to its recovery plus the margin", () => {
    const { explained, lost } = classify([failure("a", 1_000), failure("a", 3_400)], windows)
    expect(explained).toHaveLength(2)
    expect(lost).toEqual([])
  })

  it("counts a failure of another server during the window as lost", () => {
    expect(classify([failure("b", 2_000)], windows).lost).toEqual([failure("b", 2_000)])
  })

  it("counts a failure of the faulted server after the margin as lost", () => {
    expect(classify([failure("a", 3_600)], windows).lost).toHaveLength(1)
  })

  it("explains a call that started before the injection and failed inside the window", () => {
    expect(classify([failure("a", 500, 1_200)], windows).lost).toEqual([])
  })

  it("ends an unrecovered server's window at the recovery timeout, so later failures are lost", () => {
    const w = windowsOf([kill("a", 1_000, null)], 500, 10_000)
    expect(w).toEqual([{ server: "a", kind: "docker-kill", start: 1_000, end: 11_500 }])
    expect(classify([failure("a", 12_000)], w).lost).toHaveLength(1)
  })

  it("gives a fault of the DTMA one window per server, each ending at that server's recovery", () => {
    const dtma: FaultRecord = {
      kind: "dtma-kill",
      target: "*",
      injectedAt: 0,
      affected: [
        { server: "a", recoveredAt: 100 },
        { server: "b", recoveredAt: 900 },
      ],
      detail: "",
    }
    expect(windowsOf([dtma], 0, 1).map((w) => [w.server, w.end])).toEqual([
      ["a", 100],
      ["b", 900],
    ])
  })
})

describe("sessions a killed DTMA forgot", () => {
  it("explains a 404 Session not found on a session opened before a SIGKILL of the DTMA, however late it comes", () => {
    expect(classify([notFound(100, 90_000)], [], [500]).lost).toEqual([])
  })

  it("counts a 404 on a session opened after the last SIGKILL as lost", () => {
    expect(classify([notFound(600, 90_000)], [], [500]).lost).toHaveLength(1)
  })

  it("counts other errors on an old session outside every window as lost", () => {
    expect(classify([{ ...failure("a", 90_000), sessionSince: 100 }], [], [500]).lost).toHaveLength(1)
  })
})

describe("what explains a failure", () => {
  it("counts failures by the kinds of the windows they overlap, and forgotten sessions apart", () => {
    const windows = windowsOf([kill("a", 1_000, 3_000), { ...kill("a", 2_000, 4_000), kind: "redeploy" }, kill("b", 0, 100)], 0, 1)
    expect(explainedByKind([failure("a", 1_000), failure("a", 2_500), failure("b", 50), notFound(0, 9_000)], windows)).toEqual({
      "docker-kill": 2,
      "docker-kill+redeploy": 1,
      "stale-session": 1,
    })
  })
})

describe("recovery statistics", () => {
  it("takes the lower middle as the median and the largest as the max", () => {
    expect(medianMax([4, 1, 3, 2])).toEqual({ count: 4, median: 2, max: 4 })
    expect(medianMax([])).toEqual({ count: 0, median: null, max: null })
  })

  it("measures a fault until its last affected server recovered, and leaves unrecovered ones out of the times", () => {
    const dtma: FaultRecord = {
      kind: "dtma-kill",
      target: "*",
      injectedAt: 0,
      affected: [
        { server: "a", recoveredAt: 100 },
        { server: "b", recoveredAt: 900 },
      ],
      detail: "",
    }
    expect(recoveryByKind([dtma, kill("a", 0, 50), kill("b", 0, null)])).toEqual({
      "docker-kill": { injected: 2, unrecovered: 1, recoveryMs: { count: 1, median: 50, max: 50 } },
      "dtma-kill": { injected: 1, unrecovered: 0, recoveryMs: { count: 1, median: 900, max: 900 } },
    })
  })
})
