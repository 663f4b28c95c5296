import { readdirSync, readFileSync, readlinkSync } from "node:fs"
import { loadavg } from "node:os"
import type { Sample } from "./trend.ts"

/** Open file descriptors of a process, and how many of them are sockets; null if it is gone. */
export const fdsOf = (pid: number): { readonly fds: number; readonly sockets: number } | null => {
  try {
    const entries = readdirSync(`/proc/${pid}/fd`)
    let sockets = 0
    for (const fd of entries) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) sockets++
      } catch {
        // closed between the listing and the readlink
      }
    }
    return { fds: entries.length, sockets }
  } catch {
    return null
  }
}

/** Resident memory of a process in MB (VmRSS); null if it is gone. */
export const rssMbOf = (pid: number): number | null => {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return match === null ? null : Number(match[1]) / 1024
  } catch {
    return null
  }
}

/** A gauge (e.g. `nodejs_heap_size_used_bytes`) from a Prometheus text exposition, bytes in MB; null if absent. */
export const gaugeMbOf = (metrics: string, name: string): number | null => {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, "m").exec(metrics)
  return match === null ? null : Number(match[1]) / 2 ** 20
}

/** A sample of the process now, or null if it is gone. */
export const sampleOf = async (pid: number, metrics: () => Promise<string>): Promise<Sample | null> => {
  const text = await metrics().catch(() => "")
  const heapMb = gaugeMbOf(text, "nodejs_heap_size_used_bytes")
  const externalMb = gaugeMbOf(text, "nodejs_external_memory_bytes")
  const rssMb = rssMbOf(pid)
  const fds = fdsOf(pid)
  if (rssMb === null || fds === null) return null
  return { t: Date.now(), pid, rssMb, heapMb, externalMb, ...fds, load1: loadavg()[0] ?? 0 }
}

/** Samples whichever process `pidOf` names (and its /metrics) every `everyMs` until stopped. */
export const startSampler = (pidOf: () => number, metrics: () => Promise<string>, everyMs: number): { readonly samples: ReadonlyArray<Sample>; stop(): void } => {
  const samples: Array<Sample> = []
  const take = async () => {
    const s = await sampleOf(pidOf(), metrics)
    if (s !== null) samples.push(s)
  }
  void take()
  const timer = setInterval(() => void take(), everyMs)
  return { samples, stop: () => clearInterval(timer) }
}
