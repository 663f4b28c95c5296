import type { Probe } from "./load.ts"
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { loadavg } from "node:os"

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/** User and system CPU time process `pid` has used, in seconds, from /proc/<pid>/stat. */
export const cpuTimes = (pid: number): { readonly user: number; readonly system: number } => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // Fields after the command (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return { user: Number(fields[11]) / clockTicks, system: Number(fields[12]) / clockTicks }
}

/** CPU time (user + system) process `pid` has used, in seconds. */
export const cpuSeconds = (pid: number): number => {
  const { user, system } = cpuTimes(pid)
  return user + system
}

/**
 * CPU time the whole machine has been busy (every core: user, nice, system, irq, softirq, steal;
 * not idle or iowait), in seconds, from the first line of /proc/stat.
 */
export const machineCpuSeconds = (): number => {
  const [, user, nice, system, , , irq, softirq, steal] = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).map(Number)
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / clockTicks
}

/** A probe of a process's CPU time (`cpuSeconds`) over a measured window, in seconds. */
export const cpuProbe =
  (pid: number): Probe =>
  () => {
    const from = cpuSeconds(pid)
    return () => cpuSeconds(pid) - from
  }

/** The monotonic clock a V8 CPU profile's samples are timed by, in µs. */
export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

/**
 * `cpuProbe` over a run of closed-loop load, and the measured window it was opened and closed over
 * (monotonic µs, for `summarizeProfile`): what the profiling scripts read their profile's window by.
 */
export const windowedCpuProbe = (pid: number): { readonly probe: Probe; readonly window: () => { readonly fromUs: number; readonly toUs: number } } => {
  let fromUs = 0
  let toUs = 0
  const cpu = cpuProbe(pid)
  return {
    probe: () => {
      fromUs = nowUs()
      const read = cpu()
      return () => {
        toUs = nowUs()
        return read()
      }
    },
    window: () => ({ fromUs, toUs }),
  }
}

/** The load averages (1 / 5 / 15 min), for a script's report. */
export const loadNow = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" / ")

/** Where a process's resident memory is (`/proc/<pid>/smaps_rollup`), in bytes: anonymous (heaps) and file-backed (code, libraries). */
export const residentBytes = (pid: number): { readonly rss: number; readonly anonymous: number; readonly fileBacked: number } => {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8")
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(rollup)?.[1] ?? Number.NaN) * 1024
  const rss = kb("Rss")
  const anonymous = kb("Anonymous")
  return { rss, anonymous, fileBacked: rss - anonymous }
}

/** A container's memory from its cgroup: usage, the working set `docker stats` shows (usage − inactive file cache), and RSS. */
export interface ContainerMemory {
  readonly usageBytes: number
  readonly workingSetBytes: number
  readonly rssBytes: number
}

const statField = (stat: string, key: string): number => Number(new RegExp(`^${key} (\\d+)$`, "m").exec(stat)?.[1] ?? 0)

export const containerMemory = (id: string): ContainerMemory => {
  const v1 = `/sys/fs/cgroup/memory/docker/${id}`
  if (existsSync(v1)) {
    const usage = Number(readFileSync(`${v1}/memory.usage_in_bytes`, "utf8"))
    const stat = readFileSync(`${v1}/memory.stat`, "utf8")
    return { usageBytes: usage, workingSetBytes: usage - statField(stat, "total_inactive_file"), rssBytes: statField(stat, "total_rss") }
  }
  const v2 = `/sys/fs/cgroup/system.slice/docker-${id}.scope`
  const usage = Number(readFileSync(`${v2}/memory.current`, "utf8"))
  const stat = readFileSync(`${v2}/memory.stat`, "utf8")
  return { usageBytes: usage, workingSetBytes: usage - statField(stat, "inactive_file"), rssBytes: statField(stat, "anon") }
}
