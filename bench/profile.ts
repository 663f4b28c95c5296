import { mkdirSync, readdirSync, renameSync } from "node:fs"
import { join } from "node:path"
import { deployStdio, EVERYTHING_IMAGE, type BenchContext, type Table } from "./context.ts"
import { summarizeProfile, type ProfileSummary } from "./lib/cpuProfile.ts"
import { startBenchDtma } from "./lib/dtma.ts"
import { closedLoop } from "./lib/load.ts"
import { echoCall, streamableHttp } from "./lib/mcpClients.ts"
import { nowUs } from "./lib/proc.ts"

/** Where a DTMA spends its CPU while proxying `echo` calls, per concurrency. */
export interface ProfileRun {
  readonly clients: number
  readonly calls: number
  /** Busy (non-idle) DTMA time per call, ms: under `--cpu-prof`, so higher than without it. */
  readonly busyMsPerCall: number
  readonly summary: ProfileSummary
}

/**
 * A second DTMA under `node --cpu-prof`, driven like the call-overhead figure; the profile is cut
 * to each measured window. Writes the raw profile to `profileFile` (open it in Chrome DevTools).
 */
export const measureProfile = async (ctx: BenchContext, profileFile: string): Promise<ReadonlyArray<ProfileRun>> => {
  const dir = join(ctx.runDir, "cpu-profile")
  mkdirSync(dir, { recursive: true })
  const dtma = await startBenchDtma({ runDir: ctx.runDir, scope: `${ctx.dtma.scope}-prof`, nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${dir}`] })
  const windows: Array<{ clients: number; calls: number; fromUs: number; toUs: number }> = []
  try {
    const name = `${ctx.runId}-prof`
    await deployStdio(dtma, name, EVERYTHING_IMAGE)
    for (const n of ctx.plan.profileClients) {
      const clients = await Promise.all(
        Array.from({ length: n }, () => streamableHttp(`${dtma.url}/mcp-servers/${name}/mcp`, { authorization: `Bearer ${dtma.token}` })),
      )
      await closedLoop(
        clients.map((c) => echoCall(c.client)),
        { warmupMs: 0, durationMs: ctx.plan.callWarmupMs },
      )
      const fromUs = nowUs()
      const result = await closedLoop(
        clients.map((c) => echoCall(c.client)),
        { warmupMs: 0, durationMs: ctx.plan.profileDurationMs },
      )
      windows.push({ clients: n, calls: result.latencyMs.n, fromUs, toUs: nowUs() })
      await Promise.all(clients.map((c) => c.close()))
    }
  } finally {
    await dtma.stop() // the profile is written when the process exits
  }
  const written = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"))
  if (written === undefined) throw new Error(`the profiled DTMA wrote no profile in ${dir}`)
  renameSync(join(dir, written), profileFile)
  return windows.map((w) => {
    const summary = summarizeProfile(profileFile, { window: w })
    ctx.log(`profile: ${w.clients} clients, ${w.calls} calls, ${Math.round((summary.busyMs / w.calls) * 1000) / 1000} ms busy per call`)
    return { clients: w.clients, calls: w.calls, busyMsPerCall: summary.busyMs / w.calls, summary }
  })
}

export const profileTables = (runs: ReadonlyArray<ProfileRun>): ReadonlyArray<Table> =>
  runs.flatMap((r) => [
    {
      title:
        `Profile, ${r.clients} client${r.clients === 1 ? "" : "s"}: DTMA self time by package ` +
        `(${r.calls} calls, ${Math.round(r.busyMsPerCall * 1000) / 1000} ms busy per call under the profiler)`,
      header: ["package", "self ms", "share %"],
      rows: r.summary.byPackage.slice(0, 12).map((p) => [p.name, String(p.selfMs), String(p.share)]),
    },
    {
      title: `Profile, ${r.clients} client${r.clients === 1 ? "" : "s"}: heaviest frames (self time)`,
      header: ["frame", "self ms", "share %"],
      rows: r.summary.topSelf.slice(0, 15).map((p) => [`\`${p.frame}\``, String(p.selfMs), String(p.share)]),
    },
  ])
