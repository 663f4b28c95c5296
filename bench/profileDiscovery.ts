// Where a DTMA's CPU goes per discovery poll: `node bench/profileDiscovery.ts [checkout] [servers] [seconds]`
// starts the checkout's DTMA (this one by default) under `node --cpu-prof`, deploys `servers`
// server-memory servers (50 by default), has 32 pollers (the discovery figure's) poll
// `GET /mcp-servers/discovery` with the current `If-None-Match`, then for full bodies (1 s warm-up,
// then `seconds` measured each), and prints each window's profile by package and its heaviest frames
// in µs per poll, beside the DTMA's CPU per poll from /proc. The profiler slows the DTMA: read shares.
import { readdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { MEMORY_IMAGE, type BenchContext } from "./context.ts"
import { DISCOVERY_REQUESTS, discoveryHeaders, get } from "./discovery.ts"
import { cleanUp, cleanUpOnSignals } from "./lib/cleanup.ts"
import { summarizeProfile } from "./lib/cpuProfile.ts"
import { scriptRun, startCheckoutDtma } from "./lib/dtma.ts"
import { makeFleet } from "./lib/fleet.ts"
import { closedLoop, type LoadResult, type Operation } from "./lib/load.ts"
import { loadNow, windowedCpuProbe } from "./lib/proc.ts"
import { FULL_PLAN } from "./plan.ts"

const [checkout = ".", serversArg, secondsArg] = process.argv.slice(2)
const servers = Number(serversArg ?? 50)
const seconds = Number(secondsArg ?? 5)
const run = scriptRun("profd")
const { runId, runDir, profileDir } = run

cleanUpOnSignals()
try {
  const loadAtStart = loadNow()
  const dtma = await startCheckoutDtma(run, checkout, ["--cpu-prof", `--cpu-prof-dir=${profileDir}`])
  const ctx: BenchContext = { runId, runDir, plan: FULL_PLAN, dtma, log: (line) => console.error(line) }
  await makeFleet(ctx, MEMORY_IMAGE).growTo(servers)
  const { Agent } = await import("node:http")
  const agent = new Agent({ keepAlive: true, maxSockets: FULL_PLAN.discoveryPollers })
  const url = new URL(`${dtma.url}/mcp-servers/discovery`)
  const auth = { authorization: `Bearer ${dtma.token}` }
  const first = await get(agent, url, auth)
  const windows: Array<{ label: string; fromUs: number; toUs: number; result: LoadResult }> = []
  for (const kind of ["ifNoneMatch", "full", "gzip"] as const) {
    const headers = discoveryHeaders(kind, auth, first.etag)
    const poll: Operation = async () => {
      await get(agent, url, headers)
    }
    const { probe, window } = windowedCpuProbe(dtma.pid)
    const result = await closedLoop(
      Array.from({ length: FULL_PLAN.discoveryPollers }, () => poll),
      { warmupMs: 1_000, durationMs: seconds * 1000, probe },
    )
    windows.push({ label: DISCOVERY_REQUESTS[kind].label, ...window(), result })
  }
  agent.destroy()
  await dtma.stop() // the profile is written when the process exits
  const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"))
  if (file === undefined) throw new Error(`the profiled DTMA wrote no profile in ${profileDir}`)
  const path = join(profileDir, file)
  console.log(
    `checkout ${resolve(checkout)}, ${servers} servers, ${seconds} s a window; load ${loadAtStart} at the start, ${loadNow()} at the end; profile ${path}`,
  )
  for (const { label, fromUs, toUs, result } of windows) {
    const polls = result.latencyMs.n
    const summary = summarizeProfile(path, { window: { fromUs, toUs }, topN: 25 })
    console.log(
      `\n${label}: ${polls} polls, ${Math.round(result.perSecond)}/s, p50 ${result.latencyMs.p50.toFixed(1)} ms, p99 ${result.latencyMs.p99.toFixed(1)} ms`,
    )
    console.log(`DTMA CPU per poll (/proc, under the profiler): ${Math.round(((result.probed ?? Number.NaN) * 1e6) / polls)} µs`)
    console.log("package\tµs per poll")
    for (const p of summary.byPackage) console.log(`${p.name}\t${((p.selfMs * 1000) / polls).toFixed(1)}`)
    console.log("heaviest frames (self)\tµs per poll")
    for (const f of summary.topSelf) console.log(`${f.frame}\t${((f.selfMs * 1000) / polls).toFixed(1)}`)
    console.log("heaviest frames (total)\tµs per poll")
    for (const f of summary.topTotal) console.log(`${f.frame}\t${((f.totalMs * 1000) / polls).toFixed(1)}`)
  }
} finally {
  await cleanUp()
}
