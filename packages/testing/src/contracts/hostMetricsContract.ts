import { describe, expect, it } from "vitest"
import type { HostMetrics, HostMetricsSample } from "@dtma/domain"
import { run } from "../effects.ts"

/** Host metrics under test. */
export interface HostMetricsSubject {
  readonly metrics: HostMetrics
  readonly cleanup?: () => Promise<void>
}

const isByteCount = (n: number) => Number.isSafeInteger(n) && n >= 0

/** What a sample must say for a reader to trust it, as one list of broken promises (empty when it holds). */
const problemsOf = (s: HostMetricsSample): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const { memory, disk } = s
  if (!(Number.isFinite(s.cpuLoadPercent) && s.cpuLoadPercent >= 0 && s.cpuLoadPercent <= 100))
    problems.push(`cpu ${s.cpuLoadPercent} is not a share of 0..100`)
  const counts = {
    memory: [memory.totalBytes, memory.activeBytes, memory.freeBytes, memory.usedBytes],
    disk: [disk.totalBytes, disk.usedBytes, disk.freeBytes],
  }
  for (const [what, ns] of Object.entries(counts)) for (const n of ns) if (!isByteCount(n)) problems.push(`a ${what} figure, ${n}, is not a byte count`)
  if (memory.usedBytes + memory.freeBytes > memory.totalBytes) problems.push("memory used and free exceed the total")
  if (memory.activeBytes > memory.totalBytes) problems.push("memory active exceeds the total")
  if (disk.usedBytes + disk.freeBytes > disk.totalBytes) problems.push("disk used and free exceed the total")
  if (!disk.mount.startsWith("/")) problems.push(`disk mount '${disk.mount}' is not an absolute path`)
  return problems
}

/** Behaviour every HostMetrics must have; run on the fixed fake and on the machine's own figures. */
export const hostMetricsContract = (label: string, setup: () => Promise<HostMetricsSubject>): void => {
  describe(`HostMetrics contract: ${label}`, () => {
    it("samples a CPU share of 0 to 100 and whole byte counts that fit within their totals", async () => {
      const s = await setup()
      try {
        expect(problemsOf(await run(s.metrics.sample()))).toEqual([])
      } finally {
        await s.cleanup?.()
      }
    })

    it("keeps every sample sound and its totals and mount steady, asked often and at once", async () => {
      const s = await setup()
      try {
        const samples = await Promise.all(Array.from({ length: 5 }, () => run(s.metrics.sample())))
        for (let i = 0; i < 5; i++) samples.push(await run(s.metrics.sample()))
        expect(samples.flatMap(problemsOf)).toEqual([])
        const steady = (x: HostMetricsSample) => [x.memory.totalBytes, x.disk.totalBytes, x.disk.mount]
        expect(new Set(samples.map((x) => JSON.stringify(steady(x)))).size).toBe(1)
      } finally {
        await s.cleanup?.()
      }
    })
  })
}
