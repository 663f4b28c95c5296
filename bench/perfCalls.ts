// The DTMA's on-CPU time per proxied call, by function, from Linux `perf`: `node bench/perfCalls.ts
// [checkout] [clients] [seconds] [warm-up seconds]` starts the checkout's DTMA with `--perf-basic-prof` (JIT frames get
// names), has `clients` SDK sessions call server-everything's `echo` (10 s warm-up by default, then
// `seconds` measured), records `perf record -e cpu-clock` of the DTMA over the measured window, and prints the
// user and system CPU per call from /proc, the samples by cost group (bench/lib/perfScript.ts) and
// the heaviest JS frames (self, with what they call outside JS), in µs per call. Unlike
// `--cpu-prof` (bench/profileCalls.ts), which charges a preempted DTMA's wait to the frame it was in,
// perf samples only while the DTMA is on a CPU: kernel time (the syscalls of a write) is its own.
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { deployStdio, EVERYTHING_IMAGE } from "./context.ts"
import { cleanUp, cleanUpOnSignals } from "./lib/cleanup.ts"
import { startCheckoutDtma } from "./lib/dtma.ts"
import { closedLoop } from "./lib/load.ts"
import { echoCall, streamableHttp } from "./lib/mcpClients.ts"
import { perfGroupOf, perfSamplesOf } from "./lib/perfScript.ts"
import { cpuTimes, loadNow } from "./lib/proc.ts"

const [checkout = ".", clientsArg, secondsArg, warmupArg] = process.argv.slice(2)
const clients = Number(clientsArg ?? 8)
const seconds = Number(secondsArg ?? 8)
// V8 keeps compiling for a while after the first calls: a longer warm-up profiles the steady state.
const warmupMs = Number(warmupArg ?? 10) * 1000
const runId = `perf${Date.now().toString(36)}`
const runDir = mkdtempSync(join(tmpdir(), `dtma-${runId}-`))
const perfData = join(runDir, "perf.data")

cleanUpOnSignals()
try {
  const loadAtStart = loadNow()
  const dtma = await startCheckoutDtma({ runId, runDir }, checkout, ["--perf-basic-prof", "--interpreted-frames-native-stack"])
  const name = `${runId}-echo`
  await deployStdio(dtma, name, EVERYTHING_IMAGE)
  const sessions = await Promise.all(
    Array.from({ length: clients }, () => streamableHttp(`${dtma.url}/mcp-servers/${name}/mcp`, { authorization: `Bearer ${dtma.token}` })),
  )
  let recorded: Promise<void> = Promise.resolve()
  let used = { user: 0, system: 0 }
  const probe = () => {
    const perf = spawn("perf", ["record", "-e", "cpu-clock", "-F", "2999", "-g", "-o", perfData, "-p", String(dtma.pid)], { stdio: "ignore" })
    recorded = new Promise((done) => perf.once("exit", () => done()))
    const from = cpuTimes(dtma.pid)
    return () => {
      const to = cpuTimes(dtma.pid)
      perf.kill("SIGINT")
      used = { user: to.user - from.user, system: to.system - from.system }
      return used.user + used.system
    }
  }
  const result = await closedLoop(
    sessions.map((s) => echoCall(s.client)),
    { warmupMs, durationMs: seconds * 1000, probe },
  )
  await recorded
  await Promise.all(sessions.map((s) => s.close()))
  const calls = result.latencyMs.n
  console.log(`checkout ${resolve(checkout)}, ${clients} clients, ${seconds} s: ${calls} calls, ${Math.round(result.perSecond)}/s, ${result.errors} errors`)
  console.log(`load average (1 / 5 / 15 min): ${loadAtStart} at the start, ${loadNow()} at the end; perf data ${perfData}`)
  console.log(`DTMA CPU per call (/proc): user ${Math.round((used.user * 1e6) / calls)} µs, system ${Math.round((used.system * 1e6) / calls)} µs`)
  const script = spawnSync("perf", ["script", "-i", perfData], { encoding: "utf8", maxBuffer: 1024 * 1024 * 1024 })
  const samples = perfSamplesOf(script.stdout)
  // cpu-clock at -F 2999: each sample stands for 1/2999 s of one thread's CPU.
  const usPerCall = (n: number) => (n * (1e6 / 2999)) / calls
  const groups = new Map<string, number>()
  for (const sample of samples) groups.set(perfGroupOf(sample), (groups.get(perfGroupOf(sample)) ?? 0) + 1)
  console.log(`perf samples: ${samples.length} (${usPerCall(samples.length).toFixed(0)} µs per call)`)
  console.log("group\tµs per call\tshare %")
  for (const [group, n] of [...groups].sort((x, y) => y[1] - x[1]))
    console.log(`${group}\t${usPerCall(n).toFixed(1)}\t${((n / samples.length) * 100).toFixed(1)}`)
  const self = new Map<string, number>()
  for (const { thread, stack } of samples) {
    const leaf = stack.find((f) => f.url !== "") ?? stack[0]
    const frame = thread === "MainThread" && leaf !== undefined ? `${leaf.functionName} ${leaf.url.replace(/^.*\/(packages|node_modules)\//, "")}` : thread
    self.set(frame, (self.get(frame) ?? 0) + 1)
  }
  console.log("\nheaviest JS frames (self, with the native and kernel code they call)\tµs per call")
  for (const [frame, n] of [...self].sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(`${frame}\t${usPerCall(n).toFixed(1)}`)
  await dtma.stop()
} finally {
  await cleanUp()
}
