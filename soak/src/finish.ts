import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { serverPath, type Api } from "./api.ts"
import type { Backend } from "./backend.ts"
import { classify, explainedByKind, recoveryByKind, windowsOf } from "./classify.ts"
import type { ClientPool } from "./clientPool.ts"
import { containersOfScope } from "./docker.ts"
import type { DtmaProcess, DtmaSettings } from "./dtmaProcess.ts"
import type { FaultRecord } from "./faults/types.ts"
import type { ServerSpec } from "./fleet.ts"
import { checkContainers, countCheck, credentialFilesLeft, socketFilesUnder } from "./leaks.ts"
import { machineFacts } from "./machine.ts"
import { fdsOf, socketKindsOf } from "./proc.ts"
import { RECOVERY_TIMEOUT_MS } from "./recovery.ts"
import { callTotals, leaksFound, markdownOf, type Leaks } from "./report.ts"
import { SETTINGS } from "./settings.ts"
import { memoryTrend, type MemoryLimits, type Sample } from "./trend.ts"

/** Open descriptors may differ by this many between two idle moments (timers, a lingering keep-alive). */
const FD_TOLERANCE = 10
/** Memory growth beyond these, over the longest-lived DTMA process, is a leak (see trend.ts). */
const MEMORY_LIMITS: MemoryLimits = { warmupMs: 60_000, minSpanMs: 90_000, heapFloorMb: 32, externalFloorMb: 32, rssFloorMb: 128 }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Finish {
  readonly api: Api
  readonly holder: { readonly dtma: DtmaProcess }
  readonly settings: DtmaSettings
  readonly backend: Backend
  readonly fleet: ReadonlyArray<ServerSpec>
  readonly pool: ClientPool
  readonly sampler: { readonly samples: ReadonlyArray<Sample>; stop(): void }
  readonly faults: ReadonlyArray<FaultRecord>
  readonly empty0: { readonly fds: number; readonly sockets: number } | null
  readonly idle0: { readonly fds: number; readonly sockets: number } | null
  /** What the DTMA's sockets were at those two moments (see socketKindsOf). */
  readonly kinds0: { readonly empty: Readonly<Record<string, number>>; readonly idle: Readonly<Record<string, number>> }
  readonly skipped: ReadonlyArray<string>
  readonly kinds: ReadonlyArray<string>
  readonly deployMs: ReadonlyArray<number>
  readonly chaosStart: number
  readonly durationMs: number
  readonly outDir: string
  readonly stamp: string
  readonly log: (line: string) => void
}

/** Leak checks, teardown through the API, classification of failures, and the result files. */
export const finish = async (f: Finish): Promise<{ readonly pass: boolean; readonly summary: string }> => {
  const { api, holder, settings } = f
  // Idle again: clients gone, keep-alive connections timed out (Node's default is 5 s).
  await sleep(6_000)
  const idle1 = fdsOf(holder.dtma.pid)
  const idleKinds1 = socketKindsOf(holder.dtma.pid)
  const containersBeforeTeardown = await checkContainers(api, settings.scope)
  for (const server of await api.list()) {
    const answer = await api.call("DELETE", serverPath(server.name), undefined, 60_000).catch((e: unknown) => ({ status: 0, body: String(e) }))
    if (answer.status !== 200) f.log(`teardown: DELETE ${server.name} answered ${answer.status}: ${JSON.stringify(answer.body)}`)
  }
  const containersAfterTeardown = (await containersOfScope(settings.scope)).length
  // Idle again: keep-alive connections of the teardown's requests timed out.
  await sleep(6_000)
  const empty1 = fdsOf(holder.dtma.pid)
  const emptyKinds1 = socketKindsOf(holder.dtma.pid)
  f.sampler.stop()
  const socketFiles = [...socketFilesUnder(settings.stateDir), ...socketFilesUnder(settings.credentialsDir)]
  const credentialFiles = credentialFilesLeft(settings.credentialsDir)
  const exit = await holder.dtma.kill("SIGTERM")
  const containersAfterExit = (await containersOfScope(settings.scope)).length
  await sleep(500)
  const log = readFileSync(settings.logFile, "utf8")
  const tokensInLog = f.backend.minted.filter((token) => log.includes(token)).length
  const leaks: Leaks = {
    containersBeforeTeardown,
    containersAfterTeardown,
    containersAfterExit,
    fds: countCheck(f.idle0?.fds ?? -1, idle1?.fds ?? Number.MAX_SAFE_INTEGER, FD_TOLERANCE),
    sockets: countCheck(f.idle0?.sockets ?? -1, idle1?.sockets ?? Number.MAX_SAFE_INTEGER, FD_TOLERANCE),
    fdsEmpty: countCheck(f.empty0?.fds ?? -1, empty1?.fds ?? Number.MAX_SAFE_INTEGER, FD_TOLERANCE),
    socketsEmpty: countCheck(f.empty0?.sockets ?? -1, empty1?.sockets ?? Number.MAX_SAFE_INTEGER, FD_TOLERANCE),
    socketFiles,
    credentialFiles,
    memory: memoryTrend(f.sampler.samples, MEMORY_LIMITS),
    tokensMinted: f.backend.minted.length,
    tokensInLog,
  }

  const windows = windowsOf(f.faults, SETTINGS.marginMs, RECOVERY_TIMEOUT_MS)
  const dtmaKills = f.faults.filter((x) => x.kind === "dtma-kill").map((x) => x.injectedAt)
  const { explained, lost } = classify(f.pool.failures, windows, dtmaKills)
  const byKindOfFault = explainedByKind(explained, windows)
  const calls = callTotals(f.pool.tallies, f.pool.failures, lost)
  const byKind = recoveryByKind(f.faults)
  const unrecovered = Object.values(byKind).reduce((s, k) => s + k.unrecovered, 0)
  const found = leaksFound(leaks)
  const loads = f.sampler.samples.map((s) => s.load1)
  const load = { mean: loads.reduce((s, l) => s + l, 0) / Math.max(1, loads.length), max: Math.max(0, ...loads) }
  const reasons = [
    ...(calls.lost > 0 ? [`${calls.lost} lost calls`] : []),
    ...(unrecovered > 0 ? [`${unrecovered} faults not recovered within ${RECOVERY_TIMEOUT_MS / 1000} s`] : []),
    ...(f.faults.length === 0 ? ["no fault was injected"] : []),
    ...found.map((l) => `leak: ${l}`),
  ]
  const pass = reasons.length === 0
  const minutes = `${Math.floor(f.durationMs / 60_000)}m${String(Math.round((f.durationMs % 60_000) / 1000)).padStart(2, "0")}s`
  const summary =
    `soak ${pass ? "PASS" : "FAIL"}: ${minutes} of chaos, ${f.fleet.length} servers, ${f.fleet.length * SETTINGS.clientsPerServer} clients, ` +
    `${f.faults.length} faults (${Object.entries(byKind)
      .map(([k, v]) => `${k} ${v.injected}`)
      .join(", ")}), ${calls.calls} calls, ${calls.callsFailed + calls.connectsFailed} failed ` +
    `(${calls.explained} in fault windows, ${calls.lost} lost), leaks: ${found.length === 0 ? "none" : found.length}, ` +
    `load avg mean ${load.mean.toFixed(2)} max ${load.max.toFixed(2)}` +
    (pass ? "" : ` — ${reasons.join("; ")}`)
  const machine = { ...(await machineFacts()), loadAverage1mDuringRun: { mean: Number(load.mean.toFixed(2)), max: Number(load.max.toFixed(2)) } }
  const result = {
    summary,
    pass,
    reasons,
    startedAt: new Date(f.chaosStart).toISOString(),
    chaosMs: f.durationMs,
    machine,
    settings: {
      ...SETTINGS,
      servers: f.fleet.map((s) => ({ name: s.name, transport: s.transport, tool: s.tool })),
      kinds: f.kinds,
      skipped: f.skipped,
      fdTolerance: FD_TOLERANCE,
      memoryLimits: MEMORY_LIMITS,
    },
    deployMs: f.deployMs,
    calls: { ...calls, perServer: Object.fromEntries(f.pool.tallies) },
    faults: { byKind, list: f.faults },
    // Every lost failure; the explained ones counted by what explains them, and the first 200.
    failures: { lost, explainedByKind: byKindOfFault, explainedSample: explained.slice(0, 200) },
    leaks,
    dtmaExit: exit,
    dtmaPort: settings.port,
    backendPort: Number(new URL(settings.backendUrl).port),
    socketKinds: { emptyStart: f.kinds0.empty, idleStart: f.kinds0.idle, idleEnd: idleKinds1, emptyEnd: emptyKinds1 },
    backend: f.backend.requests,
    samples: f.sampler.samples,
  }
  const base = join(f.outDir, f.stamp)
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`)
  writeFileSync(
    `${base}.md`,
    markdownOf({
      summary,
      machine,
      calls,
      explainedByKind: byKindOfFault,
      faults: f.faults,
      skipped: f.skipped,
      leaks,
      lostCalls: lost.slice(0, 50),
      startedAt: f.chaosStart,
    }),
  )
  f.log(`result: ${base}.json and ${base}.md`)
  return { pass, summary }
}
