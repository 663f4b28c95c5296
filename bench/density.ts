import type { BenchContext, Table, TargetCheck } from "./context.ts"
import { containerIds } from "./lib/docker.ts"
import type { Fleet } from "./lib/fleet.ts"
import { containerMemory, cpuSeconds, rssBytes } from "./lib/proc.ts"
import { round, summarize } from "./lib/stats.ts"

/** The idle DTMA with `servers` MCP servers deployed and health monitoring on. */
export interface DensityRun {
  readonly servers: number
  readonly image: string
  /** Deploying all of them (`deployConcurrency` at a time), s. */
  readonly deployAllSeconds: number
  readonly deployConcurrency: number
  readonly dtmaRssMB: number
  /** CPU the DTMA used over the idle window, as a share of one core (0.01 = 1%). */
  readonly dtmaCpuShare: number
  readonly idleWindowSeconds: number
  /** Per server container, from its cgroup: the working set (as `docker stats`) and RSS, MB. */
  readonly containerWorkingSetMB: { readonly mean: number; readonly max: number }
  readonly containerRssMB: { readonly mean: number; readonly max: number }
}

const MB = 1024 * 1024
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits `idleSettleMs`, then reads the DTMA's CPU over `idleWindowMs` (nothing else asked of it) and memory. */
export const measureDensity = async (ctx: BenchContext, fleet: Fleet): Promise<DensityRun> => {
  await sleep(ctx.plan.idleSettleMs)
  const cpu0 = cpuSeconds(ctx.dtma.pid)
  const t0 = performance.now()
  await sleep(ctx.plan.idleWindowMs)
  const cpuShare = (cpuSeconds(ctx.dtma.pid) - cpu0) / ((performance.now() - t0) / 1000)
  const ids = await containerIds(`dtma.managed=${ctx.dtma.scope}`)
  if (ids.length !== fleet.size()) throw new Error(`${ids.length} containers run, ${fleet.size()} servers expected`)
  const memory = ids.map(containerMemory)
  const working = summarize(memory.map((m) => m.workingSetBytes / MB))
  const rss = summarize(memory.map((m) => m.rssBytes / MB))
  const run: DensityRun = {
    servers: fleet.size(),
    image: fleet.image,
    deployAllSeconds: fleet.deployMs() / 1000,
    deployConcurrency: ctx.plan.deployConcurrency,
    dtmaRssMB: rssBytes(ctx.dtma.pid) / MB,
    dtmaCpuShare: cpuShare,
    idleWindowSeconds: ctx.plan.idleWindowMs / 1000,
    containerWorkingSetMB: { mean: working.mean, max: working.max },
    containerRssMB: { mean: rss.mean, max: rss.max },
  }
  ctx.log(`density: ${run.servers} servers: DTMA ${round(run.dtmaRssMB)} MB, ${round(cpuShare * 100)}% of a core idle; ${round(working.mean)} MB per container`)
  return run
}

export const densityTable = (runs: ReadonlyArray<DensityRun>): Table => ({
  title: `Density: idle MCP servers (${runs[0]?.image ?? "?"}, stdio) with health monitoring on`,
  header: [
    "servers",
    "deploy all, s",
    "DTMA RSS MB",
    "DTMA CPU idle, % of one core",
    "per container MB, mean / max (working set)",
    "per container RSS MB, mean",
  ],
  rows: runs.map((r) => [
    String(r.servers),
    `${round(r.deployAllSeconds)}`,
    `${round(r.dtmaRssMB)}`,
    `${round(r.dtmaCpuShare * 100)}`,
    `${round(r.containerWorkingSetMB.mean)} / ${round(r.containerWorkingSetMB.max)}`,
    `${round(r.containerRssMB.mean)}`,
  ]),
  notes: [
    `Deploys ${runs[0]?.deployConcurrency ?? "?"} at a time; "deploy all" adds up the deploy steps (the fleet grows through the sizes). ` +
      `CPU over a ${runs[0]?.idleWindowSeconds ?? "?"} s idle window from /proc/<pid>/stat; ` +
      "container memory from cgroup v1 memory.usage_in_bytes minus total_inactive_file.",
  ],
})

export const densityTargets = (runs: ReadonlyArray<DensityRun>): ReadonlyArray<TargetCheck> => {
  const largest = runs.at(-1)
  if (largest === undefined) return []
  const at = `${largest.servers} servers${largest.servers === 100 ? "" : " (not 100: a quick run)"}`
  return [
    { target: `DTMA idle CPU < 2% of one core at ${at}`, measured: `${round(largest.dtmaCpuShare * 100)}%`, met: largest.dtmaCpuShare < 0.02 },
    { target: `DTMA RSS ≤ 150 MB at ${at} (issue 16)`, measured: `${round(largest.dtmaRssMB)} MB`, met: largest.dtmaRssMB <= 150 },
  ]
}
