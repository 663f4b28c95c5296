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

const hexPort = (hex: string) => Number.parseInt(hex.split(":")[1] ?? "0", 16)
const TCP_STATES: Readonly<Record<string, string>> = { "01": "established", "06": "time_wait", "08": "close_wait", "0A": "listen" }

/**
 * What each socket a process holds is, for a person: `tcp <local port> → <remote port> <state>`,
 * `unix <path>` (or `unix` when unnamed), `other`; counted, so two snapshots can be compared.
 */
export const socketKindsOf = (pid: number): Readonly<Record<string, number>> => {
  const inodes = new Set<string>()
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`)
        } catch {
          return ""
        }
      })()
      const match = /^socket:\[(\d+)\]$/.exec(link)
      if (match !== null) inodes.add(match[1]!)
    }
  } catch {
    return {}
  }
  const kinds: Record<string, number> = {}
  const count = (kind: string) => (kinds[kind] = (kinds[kind] ?? 0) + 1)
  const read = (file: string) => {
    try {
      return readFileSync(`/proc/${pid}/net/${file}`, "utf8").split("\n").slice(1)
    } catch {
      return []
    }
  }
  for (const line of [...read("tcp"), ...read("tcp6")]) {
    const f = line.trim().split(/\s+/)
    if (f[9] !== undefined && inodes.delete(f[9])) count(`tcp ${hexPort(f[1] ?? "")} → ${hexPort(f[2] ?? "")} ${TCP_STATES[f[3] ?? ""] ?? f[3]}`)
  }
  for (const line of read("unix")) {
    const f = line.trim().split(/\s+/)
    if (f[6] !== undefined && inodes.delete(f[6])) count(`unix ${f[7] ?? ""}`.trim())
  }
  for (let i = 0; i < inodes.size; i++) count("other")
  return kinds
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
export const startSampler = (
  pidOf: () => number,
  metrics: () => Promise<string>,
  everyMs: number,
): { readonly samples: ReadonlyArray<Sample>; stop(): void } => {
  const samples: Array<Sample> = []
  const take = async () => {
    const s = await sampleOf(pidOf(), metrics)
    if (s !== null) samples.push(s)
  }
  void take()
  const timer = setInterval(() => void take(), everyMs)
  return { samples, stop: () => clearInterval(timer) }
}
