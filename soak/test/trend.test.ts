import { describe, expect, it } from "vitest"
import { heapMbOf } from "../src/proc.ts"
import { memoryTrend, slope, type MemoryLimits, type Sample } from "../src/trend.ts"

const sample = (pid: number, t: number, rssMb: number, heapMb: number | null = 50): Sample => ({ t, pid, rssMb, heapMb, fds: 0, sockets: 0, load1: 0 })
const limits: MemoryLimits = { warmupMs: 30_000, minSpanMs: 90_000, heapFloorMb: 32, rssPeakMb: 64 }
// Ten minutes of one process, a sample every 5 s.
const run = (rss: (i: number) => number, heap: (i: number) => number | null = () => 50) => Array.from({ length: 120 }, (_, i) => sample(1, i * 5_000, rss(i), heap(i)))

describe("the DTMA's memory trend", () => {
  it("fits a straight line's slope exactly", () => {
    expect(slope([[0, 1], [1, 3], [2, 5]])).toBe(2)
    expect(slope([[1, 1]])).toBe(0)
  })

  it("finds no leak in a flat RSS and a sawtooth heap that garbage collection takes back", () => {
    const trend = memoryTrend(run((i) => 300 + (i % 3), (i) => 40 + (i % 10) * 8), limits)
    expect(trend.leak).toBe(false)
    expect(trend.longest?.heapFloorMb).toEqual([40, 40])
  })

  it("finds no leak when V8 hands memory back in a step and grows again to the same plateau", () => {
    const trend = memoryTrend(run((i) => (i < 60 ? 450 : i < 70 ? 230 + (i - 60) * 22 : 452)), limits)
    expect(trend.leak).toBe(false)
    expect(trend.longest?.rssSlopeMbPerMin).toBeGreaterThan(0)
  })

  it("reports a live heap that keeps growing as a leak, even with a flat RSS", () => {
    expect(memoryTrend(run(() => 300, (i) => 40 + i), limits).leak).toBe(true)
  })

  it("reports RSS peaks that keep rising as a leak", () => {
    expect(memoryTrend(run((i) => 200 + i), limits).leak).toBe(true)
  })

  it("judges only the longest-lived process after its warm-up, and gives no verdict when none lived long enough", () => {
    const first = Array.from({ length: 10 }, (_, i) => sample(1, i * 5_000, 300))
    const second = Array.from({ length: 40 }, (_, i) => sample(2, 60_000 + i * 5_000, i < 6 ? 100 + i * 20 : 200))
    const trend = memoryTrend([...first, ...second], limits)
    expect(trend).toMatchObject({ firstMb: 300, lastMb: 200, maxMb: 300, processes: 2, leak: false })
    expect(trend.longest).toMatchObject({ pid: 2, rssPeakMb: [200, 200] })
    expect(memoryTrend(first, limits)).toMatchObject({ longest: null, leak: null })
  })
})

describe("the heap in use, from /metrics", () => {
  it("is read from nodejs_heap_size_used_bytes, with or without labels", () => {
    expect(heapMbOf("# HELP x\nnodejs_heap_size_total_bytes 1\nnodejs_heap_size_used_bytes 52428800\n")).toBe(50)
    expect(heapMbOf('nodejs_heap_size_used_bytes{service="dtma"} 1048576')).toBe(1)
    expect(heapMbOf("nothing here")).toBeNull()
  })
})
