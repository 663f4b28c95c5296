import type { BenchContext, Table, TargetCheck } from "./context.ts"
import { containerIds } from "./lib/docker.ts"
import type { Fleet } from "./lib/fleet.ts"
import type { BenchDtma } from "./lib/dtma.ts"
import { containerMemory, cpuSeconds, residentBytes } from "./lib/proc.ts"
import { round, summarize } from "./lib/stats.ts"

/** The idle DTMA with `servers` MCP servers deployed and health monitoring on. */
export interface DensityRun {
  readonly servers: number
  readonly image: string
  /** Deploying all of them (`deployConcurrency` at a time), s. */
  readonly deployAllSeconds: number
  readonly deployConcurrency: number
  readonly dtmaRssMB: number
  /** Where that RSS is, MB: V8's heap as committed (of which its young generation), memory outside it (Buffers), code and
   * libraries, and the rest (native allocations). */
  readonly dtmaMemoryMB: DtmaMemory
  /** CPU the DTMA used over the idle window, as a share of one core (0.01 = 1%). */
  readonly dtmaCpuShare: number
  readonly idleWindowSeconds: number
  /** Per server container, from its cgroup: the working set (as `docker stats`) and RSS, MB. */
  readonly containerWorkingSetMB: { readonly mean: number; readonly max: number }
  readonly containerRssMB: { readonly mean: number; readonly max: number }
}

const MB = 1024 * 1024
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface DtmaMemory {
  readonly rss: number
  readonly v8Heap: number
  readonly youngGeneration: number
  readonly external: number
  readonly fileBacked: number
  readonly native: number
}

/** A gauge's value in Prometheus text (the first sample whose name and labels start so), NaN when absent. */
const gauge = (text: string, sample: string): number => {
  const line = text.split("\n").find((l) => l.startsWith(sample))
  return Number(line?.slice(line.lastIndexOf(" ") + 1) ?? Number.NaN)
}

/**
 * The DTMA's RSS taken apart, MB: `/proc/<pid>/smaps_rollup` (anonymous against file-backed) and its
 * own `/metrics` (V8's heap spaces as committed, `external`: Buffers and ArrayBuffers). `native` is
 * the anonymous rest: malloc (libuv's threads, zlib, OpenSSL, the parsers), stacks.
 */
export const dtmaMemory = async (dtma: BenchDtma): Promise<DtmaMemory> => {
  const res = await fetch(`${dtma.url}/metrics`, { headers: { authorization: `Bearer ${dtma.token}` } })
  const text = await res.text()
  const { rss, anonymous, fileBacked } = residentBytes(dtma.pid)
  const v8Heap = gauge(text, "nodejs_heap_size_total_bytes ")
  const youngGeneration = gauge(text, 'nodejs_heap_space_size_total_bytes{space="new"}')
  const external = gauge(text, "nodejs_external_memory_bytes ")
  const mb = (bytes: number) => bytes / MB
  return {
    rss: mb(rss),
    v8Heap: mb(v8Heap),
    youngGeneration: mb(youngGeneration),
    external: mb(external),
    fileBacked: mb(fileBacked),
    native: mb(anonymous - v8Heap - external),
  }
}

export const memoryCell = (m: DtmaMemory): string =>
  `${round(m.v8Heap)} (young ${round(m.youngGeneration)}) / ${round(m.external)} / ${round(m.fileBacked)} / ${round(m.native)}`

/** Waits `idleSettleMs`, then reads the DTMA's CPU over `idleWindowMs` (nothing else asked of it) and memory. */
export const measureDensity = async (ctx: BenchContext, fleet: Fleet): Promise<DensityRun> => {
  await sleep(ctx.plan.idleSettleMs)
  const cpu0 = cpuSeconds(ctx.dtma.pid)
  const t0 = performance.now()
  await sleep(ctx.plan.idleWindowMs)
  const cpuShare = (cpuSeconds(ctx.dtma.pid) - cpu0) / ((performance.now() - t0) / 1000)
  const ids = await containerIds(`dtma.managed=${ctx.dtma.scope}`)
  if (ids.length !== fleet.size()) throw new Error(`${ids.length} containers run, ${fleet.size()} servers expected`)
  const dtmaMemoryMB = await dtmaMemory(ctx.dtma)
  const memory = ids.map(containerMemory)
  const working = summarize(memory.map((m) => m.workingSetBytes / MB))
  const rss = summarize(memory.map((m) => m.rssBytes / MB))
  const run: DensityRun = {
    servers: fleet.size(),
    image: fleet.image,
    deployAllSeconds: fleet.deployMs() / 1000,
    deployConcurrency: ctx.plan.deployConcurrency,
    dtmaRssMB: dtmaMemoryMB.rss,
    dtmaMemoryMB,
    dtmaCpuShare: cpuShare,
    idleWindowSeconds: ctx.plan.idleWindowMs / 1000,
    containerWorkingSetMB: { mean: working.mean, max: working.max },
    containerRssMB: { mean: rss.mean, max: rss.max },
  }
  ctx.log(
    `density: ${run.servers} servers: DTMA ${round(run.dtmaRssMB)} MB (V8 heap / external / code / native: ${memoryCell(dtmaMemoryMB)}), ` +
      `${round(cpuShare * 100)}% of a core idle; ${round(working.mean)} MB per container`,
  )
  return run
}

export const densityTable = (runs: ReadonlyArray<DensityRun>): Table => ({
  title: `Density: idle MCP servers (${runs[0]?.image ?? "?"}, stdio) with health monitoring on`,
  header: [
    "servers",
    "deploy all, s",
    "DTMA RSS MB",
    "of which V8 heap (young) / external / code / native MB",
    "DTMA CPU idle, % of one core",
    "per container MB, mean / max (working set)",
    "per container RSS MB, mean",
  ],
  rows: runs.map((r) => [
    String(r.servers),
    `${round(r.deployAllSeconds)}`,
    `${round(r.dtmaRssMB)}`,
    memoryCell(r.dtmaMemoryMB),
    `${round(r.dtmaCpuShare * 100)}`,
    `${round(r.containerWorkingSetMB.mean)} / ${round(r.containerWorkingSetMB.max)}`,
    `${round(r.containerRssMB.mean)}`,
  ]),
  notes: [
    `Deploys ${runs[0]?.deployConcurrency ?? "?"} at a time; "deploy all" adds up the deploy steps (the fleet grows through the sizes). ` +
      `CPU over a ${runs[0]?.idleWindowSeconds ?? "?"} s idle window from /proc/<pid>/stat; ` +
      "container memory from cgroup v1 memory.usage_in_bytes minus total_inactive_file.",
    "The DTMA's RSS taken apart: V8's heap as committed (its young generation in brackets) and `external` (Buffers) from its /metrics; " +
      "code and libraries (file-backed) from /proc/<pid>/smaps_rollup; native: the anonymous rest (malloc: libuv's threads, zlib, OpenSSL; stacks).",
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
