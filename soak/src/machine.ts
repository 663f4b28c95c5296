import { cpus, loadavg, release, totalmem } from "node:os"
import { docker } from "./docker.ts"

/** What the soak ran on: the machine is shared, so the load average goes into the result too. */
export const machineFacts = async (): Promise<Record<string, string | number>> => ({
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "unknown",
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  node: process.version,
  docker: await docker("version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})").catch(() => "unknown"),
  loadAverageAtStart: loadavg()
    .map((l) => l.toFixed(2))
    .join(" "),
})
