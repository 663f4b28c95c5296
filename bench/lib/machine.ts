import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { cpus, loadavg, release, totalmem } from "node:os"

/** What the numbers were measured on. */
export interface Machine {
  readonly cpuModel: string
  readonly cores: number
  readonly memoryGiB: number
  readonly kernel: string
  readonly os: string
  readonly node: string
  readonly docker: string
  readonly cgroup: "v1" | "v2"
}

/** The 1, 5 and 15 minute load averages: other work on the machine makes the numbers noisy. */
export interface LoadAverage {
  readonly at: string
  readonly one: number
  readonly five: number
  readonly fifteen: number
}

const osName = (): string => {
  const text = existsSync("/etc/os-release") ? readFileSync("/etc/os-release", "utf8") : ""
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text)?.[1] ?? "unknown"
}

const dockerVersion = (): string => {
  try {
    return execFileSync("docker", ["version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"], { encoding: "utf8" }).trim()
  } catch {
    return "unknown"
  }
}

export const describeMachine = (): Machine => ({
  cpuModel: cpus()[0]?.model.trim() ?? "unknown",
  cores: cpus().length,
  memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  kernel: release(),
  os: osName(),
  node: process.version,
  docker: dockerVersion(),
  cgroup: existsSync("/sys/fs/cgroup/cgroup.controllers") ? "v2" : "v1",
})

export const loadAverage = (): LoadAverage => {
  const [one = 0, five = 0, fifteen = 0] = loadavg()
  const r = (x: number) => Math.round(x * 100) / 100
  return { at: new Date().toISOString(), one: r(one), five: r(five), fifteen: r(fifteen) }
}
