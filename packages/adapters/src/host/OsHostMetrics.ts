import * as Effect from "effect/Effect"
import { cpus, freemem, totalmem } from "node:os"
import { readFileSync, statfsSync } from "node:fs"
import type { HostMetrics, HostMetricsSample } from "@dtma/domain"

const cpuTimes = () =>
  cpus().reduce(
    (acc, c) => {
      const t = c.times
      return { idle: acc.idle + t.idle, total: acc.total + t.idle + t.user + t.nice + t.sys + t.irq }
    },
    { idle: 0, total: 0 },
  )

// MemAvailable counts reclaimable cache as free, as `free` does; os.freemem() does not.
const availableMemory = (): number => {
  try {
    const match = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"))
    if (match?.[1] !== undefined) return Number(match[1]) * 1024
  } catch {
    // not Linux: fall back below
  }
  return freemem()
}

const disk = (mount: string): HostMetricsSample["disk"] => {
  try {
    const s = statfsSync(mount)
    const total = s.blocks * s.bsize
    const free = s.bavail * s.bsize
    return { mount, totalBytes: total, usedBytes: total - s.bfree * s.bsize, freeBytes: free }
  } catch {
    return { mount, totalBytes: 0, usedBytes: 0, freeBytes: 0 }
  }
}

/** CPU busy share since the previous sample, memory from /proc/meminfo, disk of `/`. */
export const makeOsHostMetrics = (options: { readonly diskMount?: string } = {}): HostMetrics => {
  let previous = cpuTimes()
  return {
    sample: () =>
      Effect.sync(() => {
        const now = cpuTimes()
        const total = now.total - previous.total
        const busy = total - (now.idle - previous.idle)
        previous = now
        const totalBytes = totalmem()
        const free = availableMemory()
        return {
          cpuLoadPercent: total > 0 ? Math.round((busy / total) * 1000) / 10 : 0,
          memory: { totalBytes, activeBytes: totalBytes - free, freeBytes: free, usedBytes: totalBytes - free },
          disk: disk(options.diskMount ?? "/"),
        }
      }),
  }
}
