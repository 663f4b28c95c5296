import { describe, expect, it } from "vitest"
import { gaugeMbOf } from "../src/proc.ts"
import { memoryTrend, slope, type MemoryLimits, type Sample } from "../src/trend.ts"

const sample = (pid: number, t: number, rssMb: number, heapMb: number | null = 50, externalMb: number | null = 5): Sample => ({
  t,
  pid,
  rssMb,
  heapMb,
  externalMb,
  fds: 0,
  sockets: 0,
  load1: 0,
})
const limits: MemoryLimits = { warmupMs: 30_000, minSpanMs: 90_000, heapFloorMb: 32, externalFloorMb: 32, rssFloorMb: 128 }
// Ten minutes of one process, a sample every 5 s.
const run = (rss: (i: number) => number, heap: (i: number) => number | null = () => 50, external: (i: number) => number | null = () => 5) =>
  Array.from({ length: 120 }, (_, i) => sample(1, i * 5_000, rss(i), heap(i), external(i)))

describe("the DTMA's memory trend", () => {
  it("fits a straight line's slope exactly", () => {
    expect(
      slope([
        [0, 1],
        [1, 3],
        [2, 5],
      ]),
    ).toBe(2)
    expect(slope([[1, 1]])).toBe(0)
  })

  it("finds no leak in a flat RSS and a sawtooth heap that garbage collection takes back", () => {
    const trend = memoryTrend(
      run(
        (i) => 300 + (i % 3),
        (i) => 40 + (i % 10) * 8,
      ),
      limits,
    )
    expect(trend.leak).toBe(false)
    expect(trend.longest?.heapFloorMb).toEqual([40, 40])
  })

  it("finds no leak when V8 sizes its heap to a growing load: RSS peaks rise, hand memory back in a step, and the live heap stays flat", () => {
    // The shape of a real leak-free run: 386 MB peaks, a step down to 241 MB, then 461 MB peaks.
    const trend = memoryTrend(
      run(
        (i) => (i < 60 ? 300 + i * 1.5 : i < 70 ? 241 + (i - 60) * 9 : 330 + (i - 70) * 2.6),
        (i) => 80 + (i % 6) * 25,
      ),
      limits,
    )
    expect(trend.leak).toBe(false)
    expect(trend.longest?.heapFloorMb).toEqual([80, 80])
    expect(trend.longest!.rssPeakMb[1] - trend.longest!.rssPeakMb[0]).toBeGreaterThan(64)
  })

  it("reports a live heap that keeps growing as a leak, even with a flat RSS", () => {
    expect(
      memoryTrend(
        run(
          () => 300,
          (i) => 40 + i,
        ),
        limits,
      ).leak,
    ).toBe(true)
  })

  it("reports growing external memory (buffers) as a leak", () => {
    expect(
      memoryTrend(
        run(
          () => 300,
          () => 50,
          (i) => 5 + i / 2,
        ),
        limits,
      ).leak,
    ).toBe(true)
  })

  it("reports an RSS floor that rises by more than the wide margin as a leak", () => {
    expect(
      memoryTrend(
        run((i) => 200 + i * 2),
        limits,
      ).leak,
    ).toBe(true)
    expect(
      memoryTrend(
        run((i) => 200 + i / 2),
        limits,
      ).leak,
    ).toBe(false)
  })

  it("judges only the longest-lived process after its warm-up, and gives no verdict when none lived long enough", () => {
    const first = Array.from({ length: 10 }, (_, i) => sample(1, i * 5_000, 300))
    const second = Array.from({ length: 40 }, (_, i) => sample(2, 60_000 + i * 5_000, i < 6 ? 100 + i * 20 : 200))
    const trend = memoryTrend([...first, ...second], limits)
    expect(trend).toMatchObject({ firstMb: 300, lastMb: 200, maxMb: 300, processes: 2, leak: false })
    expect(trend.longest).toMatchObject({ pid: 2, rssPeakMb: [200, 200], rssFloorMb: [200, 200] })
    expect(memoryTrend(first, limits)).toMatchObject({ longest: null, leak: null })
  })
})

describe("the heap in use, from /metrics", () => {
  it("is read from nodejs_heap_size_used_bytes, with or without labels, and not from a gauge whose name it begins", () => {
    expect(gaugeMbOf("# HELP x\nnodejs_heap_size_used_bytes_total 9\nnodejs_heap_size_used_bytes 52428800\n", "nodejs_heap_size_used_bytes")).toBe(50)
    expect(gaugeMbOf('nodejs_external_memory_bytes{service="dtma"} 1048576', "nodejs_external_memory_bytes")).toBe(1)
    expect(gaugeMbOf("nothing here", "nodejs_heap_size_used_bytes")).toBeNull()
  })
})
