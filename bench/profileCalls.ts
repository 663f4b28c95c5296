// Where a DTMA's CPU goes per proxied call: `node bench/profileCalls.ts [checkout] [clients] [seconds]`
// starts the checkout's DTMA (this one by default) under `node --cpu-prof`, has `clients` SDK
// sessions call server-everything's `echo` (2 s warm-up, then `seconds` measured), and prints the
// profile of the measured window by cost group (bench/lib/costGroups.ts) in µs per call, the
// heaviest frames, and the DTMA's CPU per call from /proc over the same window. The profiler slows
// the DTMA (about twice): compare groups and shares, and read the /proc figure of an unprofiled run
// (bench/compare.ts) for the cost itself.
import { readdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { deployStdio, EVERYTHING_IMAGE } from "./context.ts"
import { cleanUp, cleanUpOnSignals } from "./lib/cleanup.ts"
import { costByGroup, summarizeProfile } from "./lib/cpuProfile.ts"
import { scriptRun, startCheckoutDtma } from "./lib/dtma.ts"
import { closedLoop } from "./lib/load.ts"
import { echoCall, streamableHttp } from "./lib/mcpClients.ts"
import { loadNow, windowedCpuProbe } from "./lib/proc.ts"

const [checkout = ".", clientsArg, secondsArg] = process.argv.slice(2)
const clients = Number(clientsArg ?? 8)
const seconds = Number(secondsArg ?? 8)
const run = scriptRun("prof")
const { runId, profileDir } = run

cleanUpOnSignals()
try {
  const loadAtStart = loadNow()
  const dtma = await startCheckoutDtma(run, checkout, ["--cpu-prof", `--cpu-prof-dir=${profileDir}`])
  const name = `${runId}-echo`
  await deployStdio(dtma, name, EVERYTHING_IMAGE)
  const sessions = await Promise.all(
    Array.from({ length: clients }, () => streamableHttp(`${dtma.url}/mcp-servers/${name}/mcp`, { authorization: `Bearer ${dtma.token}` })),
  )
  const { probe, window: measured } = windowedCpuProbe(dtma.pid)
  const result = await closedLoop(
    sessions.map((s) => echoCall(s.client)),
    { warmupMs: 2_000, durationMs: seconds * 1000, probe },
  )
  const window = measured()
  await Promise.all(sessions.map((s) => s.close()))
  await dtma.stop() // the profile is written when the process exits
  const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"))
  if (file === undefined) throw new Error(`the profiled DTMA wrote no profile in ${profileDir}`)
  const path = join(profileDir, file)
  const calls = result.latencyMs.n
  const groups = costByGroup(path, { window })
  const busy = groups.reduce((sum, g) => sum + g.ms, 0)
  console.log(`checkout ${resolve(checkout)}, ${clients} clients, ${seconds} s: ${calls} calls, ${Math.round(result.perSecond)}/s, ${result.errors} errors`)
  console.log(`load average (1 / 5 / 15 min): ${loadAtStart} at the start, ${loadNow()} at the end; profile ${path}`)
  console.log(`DTMA CPU per call (/proc, under the profiler): ${Math.round(((result.probed ?? Number.NaN) * 1e6) / calls)} µs`)
  console.log(`profiled busy per call: ${Math.round((busy * 1000) / calls)} µs`)
  console.log("group\tµs per call\tshare %")
  for (const g of groups) console.log(`${g.group}\t${((g.ms * 1000) / calls).toFixed(1)}\t${((g.ms / busy) * 100).toFixed(1)}`)
  console.log("\nheaviest frames (self)\tµs per call")
  for (const f of summarizeProfile(path, { window, topN: 25 }).topSelf) console.log(`${f.frame}\t${((f.selfMs * 1000) / calls).toFixed(1)}`)
} finally {
  await cleanUp()
}
