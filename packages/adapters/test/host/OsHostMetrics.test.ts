import { describe, expect, it } from "vitest"
import { hostMetricsContract, run } from "@dtma/testing"
import { makeOsHostMetrics } from "../../src/host/OsHostMetrics.ts"

hostMetricsContract("OsHostMetrics on this machine", async () => ({ metrics: makeOsHostMetrics() }))

describe("OsHostMetrics", () => {
  it("samples consistent memory and disk figures and a CPU share between 0 and 100", async () => {
    const metrics = makeOsHostMetrics()
    const sample = await run(metrics.sample())
    expect(sample.memory.totalBytes).toBeGreaterThan(0)
    expect(sample.memory.usedBytes + sample.memory.freeBytes).toBe(sample.memory.totalBytes)
    expect(sample.disk.mount).toBe("/")
    expect(sample.disk.totalBytes).toBeGreaterThanOrEqual(sample.disk.usedBytes)
    expect(sample.cpuLoadPercent).toBeGreaterThanOrEqual(0)
    expect(sample.cpuLoadPercent).toBeLessThanOrEqual(100)
  })
})
