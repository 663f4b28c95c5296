import { describe, expect, it } from "vitest"
import { memoryTrend, slope, type Sample } from "../src/trend.ts"

const sample = (pid: number, t: number, rssMb: number): Sample => ({ t, pid, rssMb, fds: 0, sockets: 0, load1: 0 })
const minute = 60_000

describe("the DTMA's memory trend", () => {
  it("fits a straight line's slope exactly", () => {
    expect(slope([[0, 1], [1, 3], [2, 5]])).toBe(2)
    expect(slope([[1, 1]])).toBe(0)
  })

  it("finds no leak in a flat RSS with noise", () => {
    const samples = Array.from({ length: 60 }, (_, i) => sample(1, i * 5_000, 150 + (i % 3)))
    const trend = memoryTrend(samples, 30_000, 40)
    expect(trend.leak).toBe(false)
    expect(trend.longest?.fittedGrowthMb).toBeLessThan(5)
  })

  it("reports a steady growth beyond the threshold over the longest-lived process as a leak", () => {
    const samples = Array.from({ length: 60 }, (_, i) => sample(1, i * 5_000, 150 + i))
    const trend = memoryTrend(samples, 0, 40)
    expect(trend.leak).toBe(true)
    expect(trend.longest?.slopeMbPerMin).toBeCloseTo(12)
  })

  it("fits only the longest-lived process, after its warm-up, so a restart's fresh RSS is not read as a trend", () => {
    const first = Array.from({ length: 10 }, (_, i) => sample(1, i * 5_000, 300))
    const second = Array.from({ length: 40 }, (_, i) => sample(2, 60_000 + i * 5_000, i < 6 ? 100 + i * 20 : 200))
    const trend = memoryTrend([...first, ...second], 30_000, 40)
    expect(trend).toMatchObject({ firstMb: 300, lastMb: 200, maxMb: 300, processes: 2, leak: false })
    expect(trend.longest).toMatchObject({ pid: 2, slopeMbPerMin: 0 })
    expect(trend.longest?.minutes).toBeCloseTo((39 * 5_000 - 30_000) / minute)
  })
})
