// Where a DTMA's CPU goes per proxied call:
// `node bench/profileCalls.ts [checkout] [clients] [seconds] [operator|agent|both]`
// starts the checkout's DTMA (this one by default) under `node --cpu-prof`, has `clients` SDK
// sessions call server-everything's `echo` (2 s warm-up, then `seconds` measured) with the operator
// key, an agent token granted the server, or each in turn (`both`: what agent authorization costs;
// two windows each),
// and prints the profile of each measured window by cost group (bench/lib/costGroups.ts) in µs per
// call, the heaviest frames, and the DTMA's CPU per call from /proc over the same window. The
// profiler slows the DTMA (about twice): compare groups and shares, and read the /proc figure of an
// unprofiled run (bench/compare.ts, the bench's authorization figure) for the cost itself.
import { readdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { agentTokenFor, deployStdio, EVERYTHING_IMAGE } from "./context.ts"
import { cleanUp, cleanUpOnSignals } from "./lib/cleanup.ts"
import { costByGroup, summarizeProfile, type ProfileWindow } from "./lib/cpuProfile.ts"
import { scriptRun, startCheckoutDtma } from "./lib/dtma.ts"
import { closedLoop, type LoadResult } from "./lib/load.ts"
import { echoCall, streamableHttp } from "./lib/mcpClients.ts"
import { loadNow, windowedCpuProbe } from "./lib/proc.ts"

const [checkout = ".", clientsArg, secondsArg, callersArg = "operator"] = process.argv.slice(2)
const clients = Number(clientsArg ?? 8)
const seconds = Number(secondsArg ?? 8)
if (!["operator", "agent", "both"].includes(callersArg)) throw new Error(`callers: operator, agent or both, not ${callersArg}`)
// `both`: four windows, operator, agent, agent, operator, each arm's summed, so that a drift of the
// machine (or the DTMA's own warming up) over the run falls on both arms alike.
const callers = callersArg === "both" ? (["operator", "agent", "agent", "operator"] as const) : ([callersArg as "operator" | "agent"] as const)
const run = scriptRun("prof")
const { runId, profileDir } = run

cleanUpOnSignals()
try {
  const loadAtStart = loadNow()
  const dtma = await startCheckoutDtma(run, checkout, ["--cpu-prof", `--cpu-prof-dir=${profileDir}`])
  const name = `${runId}-echo`
  await deployStdio(dtma, name, EVERYTHING_IMAGE)
  const tokens = { operator: dtma.token, agent: callers.includes("agent") ? await agentTokenFor(dtma, name) : "" }
  const windows: Array<{ caller: string; window: ProfileWindow; result: LoadResult }> = []
  for (const caller of callers) {
    const sessions = await Promise.all(
      Array.from({ length: clients }, () => streamableHttp(`${dtma.url}/mcp-servers/${name}/mcp`, { authorization: `Bearer ${tokens[caller]}` })),
    )
    const { probe, window } = windowedCpuProbe(dtma.pid)
    const result = await closedLoop(
      sessions.map((s) => echoCall(s.client)),
      { warmupMs: 2_000, durationMs: seconds * 1000, probe },
    )
    windows.push({ caller, window: window(), result })
    await Promise.all(sessions.map((s) => s.close()))
  }
  await dtma.stop() // the profile is written when the process exits
  const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"))
  if (file === undefined) throw new Error(`the profiled DTMA wrote no profile in ${profileDir}`)
  const path = join(profileDir, file)
  console.log(`checkout ${resolve(checkout)}, ${clients} clients, ${seconds} s a window`)
  console.log(`load average (1 / 5 / 15 min): ${loadAtStart} at the start, ${loadNow()} at the end; profile ${path}`)
  /** Adds `ms` at each key of `entries` into `into`. */
  const addInto = (into: Map<string, number>, entries: Iterable<readonly [string, number]>) => {
    for (const [key, ms] of entries) into.set(key, (into.get(key) ?? 0) + ms)
  }
  const arms = new Map<string, { calls: number; seconds: number; errors: number; probed: number; groups: Map<string, number>; frames: Map<string, number> }>()
  for (const { caller, window, result } of windows) {
    const arm = arms.get(caller) ?? { calls: 0, seconds: 0, errors: 0, probed: 0, groups: new Map(), frames: new Map() }
    arm.calls += result.latencyMs.n
    arm.seconds += result.latencyMs.n / result.perSecond
    arm.errors += result.errors
    arm.probed += result.probed ?? Number.NaN
    addInto(
      arm.groups,
      costByGroup(path, { window }).map((g) => [g.group, g.ms] as const),
    )
    addInto(
      arm.frames,
      summarizeProfile(path, { window, topN: 400 }).topSelf.map((f) => [f.frame, f.selfMs] as const),
    )
    arms.set(caller, arm)
  }
  const perCall = [...arms].map(([caller, arm]) => {
    const perCallUs = (ms: Map<string, number>) => new Map([...ms].map(([key, v]) => [key, (v * 1000) / arm.calls]))
    const groups = perCallUs(arm.groups)
    console.log(
      `${caller}: ${arm.calls} calls, ${Math.round(arm.calls / arm.seconds)}/s, ${arm.errors} errors; ` +
        `DTMA CPU per call (/proc, under the profiler) ${Math.round((arm.probed * 1e6) / arm.calls)} µs, ` +
        `profiled busy ${Math.round([...groups.values()].reduce((a, b) => a + b, 0))} µs`,
    )
    return { caller, groups, frames: perCallUs(arm.frames) }
  })
  /** Rows of `key` → µs per call in each window, heaviest (or, for two windows, most changed) first. */
  const table = (title: string, of: (w: (typeof perCall)[number]) => ReadonlyMap<string, number>, rows: number) => {
    const keys = [...new Set(perCall.flatMap((w) => [...of(w).keys()]))]
    const cells = (key: string) => perCall.map((w) => of(w).get(key) ?? 0)
    const weight = (key: string) => {
      const [a = 0, b = 0] = cells(key)
      return perCall.length === 2 ? Math.abs(b - a) : a
    }
    console.log(`\n${title}\t${perCall.map((w) => `${w.caller} µs per call`).join("\t")}${perCall.length === 2 ? "\tdifference" : ""}`)
    for (const key of keys.sort((x, y) => weight(y) - weight(x)).slice(0, rows)) {
      const values = cells(key)
      const difference = perCall.length === 2 ? `\t${((values[1] ?? 0) - (values[0] ?? 0)).toFixed(1)}` : ""
      console.log(`${key}\t${values.map((v) => v.toFixed(1)).join("\t")}${difference}`)
    }
  }
  table("group", (w) => w.groups, 30)
  table("frame (self)", (w) => w.frames, 30)
} finally {
  await cleanUp()
}
