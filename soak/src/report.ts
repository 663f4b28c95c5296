import type { Failure, ServerTally } from "./clientPool.ts"
import type { FaultRecord } from "./faults/types.ts"
import type { ContainerCheck, CountCheck } from "./leaks.ts"
import type { MemoryTrend } from "./trend.ts"
import { recoveryByKind } from "./classify.ts"

/** Every leak check of the run's end. */
export interface Leaks {
  readonly containersBeforeTeardown: ContainerCheck
  /** Containers of the scope after every server was deleted through the API, and after the DTMA exited. */
  readonly containersAfterTeardown: number
  readonly containersAfterExit: number
  /** The DTMA's open descriptors and sockets: 10 servers idle, no clients, at the start and at the end. */
  readonly fds: CountCheck
  readonly sockets: CountCheck
  /** The same with no server at all: a fresh DTMA before deploying against the last one after teardown. */
  readonly fdsEmpty: CountCheck
  readonly socketsEmpty: CountCheck
  readonly socketFiles: ReadonlyArray<string>
  readonly credentialFiles: ReadonlyArray<string> | "n/a"
  readonly memory: MemoryTrend
  /** OAuth token values the backend stand-in minted, and how many of them the DTMA's log contains. */
  readonly tokensMinted: number
  readonly tokensInLog: number
}

/** Which leak checks failed, for a person. */
export const leaksFound = (l: Leaks): ReadonlyArray<string> =>
  [
    l.containersBeforeTeardown.leak &&
      `containers not matching the API: ` +
        [...l.containersBeforeTeardown.unlisted, ...l.containersBeforeTeardown.missing.map((m) => `missing ${m}`)].join(", "),
    l.containersAfterTeardown > 0 && `${l.containersAfterTeardown} containers left after teardown`,
    l.containersAfterExit > 0 && `${l.containersAfterExit} containers left after the DTMA exited`,
    l.fds.leak && `open fds ${l.fds.start} → ${l.fds.end}`,
    l.sockets.leak && `sockets ${l.sockets.start} → ${l.sockets.end}`,
    l.fdsEmpty.leak && `open fds with no server ${l.fdsEmpty.start} → ${l.fdsEmpty.end}`,
    l.socketsEmpty.leak && `sockets with no server ${l.socketsEmpty.start} → ${l.socketsEmpty.end}`,
    l.socketFiles.length > 0 && `socket files left: ${l.socketFiles.join(", ")}`,
    l.credentialFiles !== "n/a" && l.credentialFiles.length > 0 && `credential files or directories left: ${l.credentialFiles.join(", ")}`,
    l.tokensInLog > 0 && `${l.tokensInLog} of ${l.tokensMinted} token values in the DTMA's log`,
    l.memory.leak === true &&
      `memory grew beyond its limits (live heap ${l.memory.limits.heapFloorMb} MB, external ${l.memory.limits.externalFloorMb} MB, ` +
        `RSS floor ${l.memory.limits.rssFloorMb} MB): ${memoryLine(l.memory)}`,
  ].filter((x): x is string => typeof x === "string")

/** Calls made and failed, over all servers. */
export const callTotals = (tallies: ReadonlyMap<string, ServerTally>, failures: ReadonlyArray<Failure>, lost: ReadonlyArray<Failure>) => {
  const all = [...tallies.values()]
  return {
    calls: all.reduce((s, t) => s + t.calls, 0),
    callsOk: all.reduce((s, t) => s + t.callsOk, 0),
    callsFailed: failures.filter((f) => f.what === "call").length,
    connects: all.reduce((s, t) => s + t.connects, 0),
    connectsFailed: failures.filter((f) => f.what === "connect").length,
    explained: failures.length - lost.length,
    lost: lost.length,
  }
}

/** The judged process's memory, for a person. */
export const memoryLine = (m: MemoryTrend): string => {
  const l = m.longest
  if (l === null) return "no process lived long enough after its warm-up"
  const pair = (what: string, p: readonly [number, number] | null) => (p === null ? `${what} n/a` : `${what} ${p[0].toFixed(0)} → ${p[1].toFixed(0)} MB`)
  return (
    `longest process ${l.minutes.toFixed(1)} min after warm-up, ` +
    `first → last third: ${pair("live heap", l.heapFloorMb)}, ${pair("external", l.externalFloorMb)}, ${pair("RSS floor", l.rssFloorMb)}; ` +
    `not judged: ${pair("RSS peak", l.rssPeakMb)}, RSS slope ${l.rssSlopeMbPerMin.toFixed(1)} MB/min`
  )
}

const ms = (v: number | null) => (v === null ? "–" : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${v} ms`)

/** The markdown summary of a result (the JSON holds everything). */
export const markdownOf = (r: {
  readonly summary: string
  readonly machine: Record<string, unknown>
  readonly calls: ReturnType<typeof callTotals>
  readonly explainedByKind: Readonly<Record<string, number>>
  readonly faults: ReadonlyArray<FaultRecord>
  readonly skipped: ReadonlyArray<string>
  readonly leaks: Leaks
  readonly lostCalls: ReadonlyArray<Failure>
  readonly startedAt: number
}): string => {
  const kinds = recoveryByKind(r.faults)
  const l = r.leaks
  const m = l.memory
  const memoryVerdict =
    m.leak === null
      ? "no verdict (no process lived long enough)"
      : m.leak
        ? "LEAK"
        : `ok (growth allowed: live heap ${m.limits.heapFloorMb} MB, external ${m.limits.externalFloorMb} MB, RSS floor ${m.limits.rssFloorMb} MB)`
  return [
    `# Soak result`,
    ``,
    "`" + r.summary + "`",
    ``,
    `Machine: ${Object.entries(r.machine)
      .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
      .join("; ")}`,
    ``,
    `| fault | injected | unrecovered | recovery median | recovery max | failed attempts in its windows |`,
    `|---|---:|---:|---:|---:|---:|`,
    ...Object.entries(kinds).map(
      ([k, v]) => `| ${k} | ${v.injected} | ${v.unrecovered} | ${ms(v.recoveryMs.median)} | ${ms(v.recoveryMs.max)} | ${r.explainedByKind[k] ?? 0} |`,
    ),
    ...r.skipped.map((k) => `| ${k} | skipped (image absent) | | | | |`),
    ...Object.entries(r.explainedByKind)
      .filter(([k]) => kinds[k] === undefined)
      .map(([k, n]) => `| ${k === "stale-session" ? "404 on a session a killed DTMA forgot" : `overlapping windows: ${k}`} | | | | | ${n} |`),
    ``,
    `Calls: ${r.calls.calls} made, ${r.calls.callsOk} answered, ${r.calls.callsFailed} failed; ` +
      `connects: ${r.calls.connects} made, ${r.calls.connectsFailed} failed; failures in fault windows ${r.calls.explained}, lost ${r.calls.lost}.`,
    ``,
    `| leak check | start | end | verdict |`,
    `|---|---:|---:|---|`,
    `| containers = API's list (before teardown) | ${l.containersBeforeTeardown.listed} listed | ` +
      `${l.containersBeforeTeardown.docker} containers | ${l.containersBeforeTeardown.leak ? "LEAK" : "ok"} |`,
    `| containers after teardown / after exit | | ${l.containersAfterTeardown} / ${l.containersAfterExit} | ` +
      `${l.containersAfterTeardown + l.containersAfterExit > 0 ? "LEAK" : "ok"} |`,
    `| DTMA open fds (10 servers, idle) | ${l.fds.start} | ${l.fds.end} | ${l.fds.leak ? "LEAK" : `ok (±${l.fds.tolerance})`} |`,
    `| DTMA sockets (10 servers, idle) | ${l.sockets.start} | ${l.sockets.end} | ${l.sockets.leak ? "LEAK" : `ok (±${l.sockets.tolerance})`} |`,
    `| DTMA open fds / sockets (no server) | ${l.fdsEmpty.start} / ${l.socketsEmpty.start} | ${l.fdsEmpty.end} / ${l.socketsEmpty.end} | ` +
      `${l.fdsEmpty.leak || l.socketsEmpty.leak ? "LEAK" : "ok"} |`,
    `| socket files under the state dir | | ${l.socketFiles.length} | ${l.socketFiles.length > 0 ? "LEAK" : "ok"} |`,
    `| credential files and directories left under DTMA_CREDENTIALS_DIR | | ` +
      `${l.credentialFiles === "n/a" ? "n/a (no credentials root configured)" : l.credentialFiles.length} | ` +
      `${l.credentialFiles !== "n/a" && l.credentialFiles.length > 0 ? "LEAK" : "ok"} |`,
    `| OAuth token values in the DTMA's log | ${l.tokensMinted} minted | ${l.tokensInLog} | ${l.tokensInLog > 0 ? "LEAK" : "ok"} |`,
    `| DTMA memory: RSS first ${m.firstMb?.toFixed(0)} MB, last ${m.lastMb?.toFixed(0)} MB, max ${m.maxMb?.toFixed(0)} MB over ${m.processes} processes | | ` +
      `${memoryLine(m)} | ${memoryVerdict} |`,
    ``,
    ...(r.lostCalls.length === 0
      ? []
      : [
          `Lost calls (first ${r.lostCalls.length}):`,
          ``,
          ...r.lostCalls.map(
            (f) => `- +${((f.start - r.startedAt) / 1000).toFixed(1)} s ${f.server} client ${f.client} ${f.what} (${f.end - f.start} ms): ${f.error}`,
          ),
          ``,
        ]),
    `Faults in order:`,
    ``,
    ...r.faults.map(
      (f) =>
        `- +${((f.injectedAt - r.startedAt) / 1000).toFixed(1)} s ${f.kind} ${f.target}: ${f.detail}; ` +
        `recovered ${f.affected.map((a) => (a.recoveredAt === null ? "never" : `${a.recoveredAt - f.injectedAt} ms`)).join(", ")}` +
        (f.history === undefined ? "" : ` — ${f.history.join("; ")}`),
    ),
    ``,
  ].join("\n")
}
