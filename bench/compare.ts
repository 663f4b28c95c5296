// A/B of the proxied call path of two DTMA checkouts (or two settings of one), interleaved so that a
// busy machine weighs on both alike: `node bench/compare.ts <a> <b> [rounds]`, where each side is a
// checkout's directory (its DTMA runs built, with its own node-flags: `dtmaLaunchArgs`; it needs its node_modules)
// and may end in `+KEY=value,...` for environment, e.g. `. .+LOG_LEVEL=warn`. Prints, per concurrency
// and side, the median over rounds of p50 latency, calls/s and the DTMA's CPU per call (its utime +
// stime over each 2.5 s measured window ÷ the calls answered in it, µs), and the load averages.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { deployStdio, EVERYTHING_IMAGE } from "./context.ts"
import { cleanUp, cleanUpOnSignals } from "./lib/cleanup.ts"
import { startBenchDtma, type BenchDtma } from "./lib/dtma.ts"
import { closedLoop } from "./lib/load.ts"
import { echoCall, streamableHttp } from "./lib/mcpClients.ts"
import { cpuProbe, loadNow } from "./lib/proc.ts"

const [a, b, roundsArg] = process.argv.slice(2)
if (a === undefined || b === undefined) throw new Error("usage: node bench/compare.ts <checkout>[+K=v,...] <checkout>[+K=v,...] [rounds]")
const rounds = Number(roundsArg ?? 5)
const levels = [1, 8, 32]
const runId = `cmp${Date.now().toString(36)}`
const runDir = mkdtempSync(join(tmpdir(), `dtma-${runId}-`))
const loadAtStart = loadNow()
const median = (xs: ReadonlyArray<number>) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? Number.NaN

const sideOf = (spec: string, label: string) => {
  const [dir = ".", env = ""] = spec.split("+")
  const vars = Object.fromEntries(
    env
      .split(",")
      .filter(Boolean)
      // Split at the first "=" only: a value may hold one (NODE_OPTIONS=--max-semi-space-size=8).
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const),
  )
  return { label, checkout: resolve(dir), env: vars }
}

cleanUpOnSignals()
try {
  const sides: Array<{ label: string; dtma: BenchDtma; url: string }> = []
  for (const side of [sideOf(a, `A ${a}`), sideOf(b, `B ${b}`)]) {
    const dtma = await startBenchDtma({ runDir, scope: `bench-${runId}-${sides.length}`, checkout: side.checkout, env: side.env })
    const name = `${runId}-${sides.length}`
    await deployStdio(dtma, name, EVERYTHING_IMAGE)
    sides.push({ label: side.label, dtma, url: `${dtma.url}/mcp-servers/${name}/mcp` })
  }
  const samples = new Map<string, { p50: Array<number>; rate: Array<number>; cpu: Array<number> }>()
  for (let round = 0; round < rounds; round++) {
    for (const n of levels) {
      for (const side of sides) {
        const clients = await Promise.all(Array.from({ length: n }, () => streamableHttp(side.url, { authorization: `Bearer ${side.dtma.token}` })))
        const probe = cpuProbe(side.dtma.pid)
        const result = await closedLoop(
          clients.map((c) => echoCall(c.client)),
          { warmupMs: 500, durationMs: 2_500, probe },
        )
        const cpuUs = ((result.probed ?? Number.NaN) * 1e6) / Math.max(1, result.latencyMs.n)
        await Promise.all(clients.map((c) => c.close()))
        const s = samples.get(`${n}\t${side.label}`) ?? { p50: [], rate: [], cpu: [] }
        s.p50.push(result.latencyMs.p50)
        s.rate.push(result.perSecond)
        s.cpu.push(cpuUs)
        samples.set(`${n}\t${side.label}`, s)
      }
    }
    console.error(`compare: round ${round + 1}/${rounds}`)
  }
  console.log(`load average (1 / 5 / 15 min): ${loadAtStart} at the start, ${loadNow()} at the end`)
  console.log("clients\tside\tp50 ms\tcalls/s\tDTMA CPU µs/call")
  for (const [key, s] of samples) console.log(`${key}\t${median(s.p50).toFixed(3)}\t${Math.round(median(s.rate))}\t${Math.round(median(s.cpu))}`)
} finally {
  await cleanUp()
  rmSync(runDir, { recursive: true, force: true })
}
