// A/B of the proxied call path of DTMA checkouts (or settings of one) and the references, interleaved
// so that a busy machine weighs on every side alike: `node bench/compare.ts <side> <side> ... [rounds]`.
// A side is a checkout's directory (its DTMA runs built, with its own node-flags: `dtmaLaunchArgs`; it
// needs its node_modules), which may end in `+KEY=value,...` for environment, e.g. `. .+LOG_LEVEL=warn`;
// or `floor`: bench/lib/floorProxy.ts, the least a proxy must do, in its own process; or `direct`: the
// bench's client on the container's attach stream, no process between. Each side has its own
// server-everything container. Prints, per concurrency and side, the median over rounds of p50
// latency, calls/s and CPU per call (CPU time over each 2.5 s measured window ÷ the calls answered in
// it, µs) of the proxy's process, of the clients (this process) and of the whole machine (every
// core's busy time, /proc/stat: the clients, the proxy, Docker, the server, the kernel), and the
// load averages. With the machine's cores all busy, calls/s is its cores ÷ the machine's CPU per call.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { deployStdio, EVERYTHING_IMAGE } from "./context.ts"
import { cleanUp, cleanUpOnSignals, onCleanup } from "./lib/cleanup.ts"
import { startBenchDtma } from "./lib/dtma.ts"
import { closedLoop } from "./lib/load.ts"
import { directStdio, echoCall, floorProxied, httpSessions, type Connected } from "./lib/mcpClients.ts"
import { cpuProbe, loadNow, machineCpuSeconds } from "./lib/proc.ts"

const args = process.argv.slice(2)
const specs = args.filter((x) => !/^\d+$/.test(x))
if (specs.length < 2) throw new Error("usage: node bench/compare.ts <checkout>[+K=v,...] | floor | direct ... [rounds]")
const rounds = Number(args.find((x) => /^\d+$/.test(x)) ?? 5)
const levels = [1, 8, 32]
const runId = `cmp${Date.now().toString(36)}`
const runDir = mkdtempSync(join(tmpdir(), `dtma-${runId}-`))
const loadAtStart = loadNow()
const median = (xs: ReadonlyArray<number>) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? Number.NaN

/** A path to a server-everything of its own: how to open `n` clients, and which process to charge. */
interface Side {
  readonly label: string
  readonly pid?: number
  open(n: number): Promise<ReadonlyArray<Connected>>
}

const checkoutSide = async (spec: string, index: number): Promise<Side> => {
  const [dir = ".", env = ""] = spec.split("+")
  const vars = Object.fromEntries(
    env
      .split(",")
      .filter(Boolean)
      // Split at the first "=" only: a value may hold one (NODE_OPTIONS=--max-semi-space-size=8).
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const),
  )
  const dtma = await startBenchDtma({ runDir, scope: `bench-${runId}-${index}`, checkout: resolve(dir), env: vars })
  const name = `${runId}-${index}`
  await deployStdio(dtma, name, EVERYTHING_IMAGE)
  return { label: spec, pid: dtma.pid, open: httpSessions(`${dtma.url}/mcp-servers/${name}/mcp`, { authorization: `Bearer ${dtma.token}` }) }
}

const floorSide = async (index: number): Promise<Side> => {
  const floor = await floorProxied({ image: EVERYTHING_IMAGE, name: `${runId}-floor-${index}`, runId })
  return { label: "floor", pid: floor.pid, open: httpSessions(floor.url, {}) }
}

const directSide = async (index: number): Promise<Side> => {
  const direct = await directStdio({ image: EVERYTHING_IMAGE, name: `${runId}-direct-${index}`, runId })
  onCleanup("the direct client", () => direct.close())
  const shared: Connected = { client: direct.client, close: async () => undefined }
  return { label: "direct", open: async (n) => Array.from({ length: n }, () => shared) }
}

cleanUpOnSignals()
try {
  const sides: Array<Side> = []
  for (const [index, spec] of specs.entries()) {
    sides.push(await (spec === "floor" ? floorSide(index) : spec === "direct" ? directSide(index) : checkoutSide(spec, index)))
  }
  const columns = ["p50 ms", "calls/s", "proxy CPU µs/call", "clients CPU µs/call", "machine CPU µs/call"] as const
  const samples = new Map<string, Array<Array<number>>>()
  for (let round = 0; round < rounds; round++) {
    for (const n of levels) {
      for (const side of sides) {
        const clients = await side.open(n)
        // The window's CPU: the proxy's (the probe's reading), the clients' and the machine's (kept aside).
        let used = { clients: 0, machine: 0 }
        const probe = () => {
          const proxy = side.pid === undefined ? () => Number.NaN : cpuProbe(side.pid)()
          const from = { clients: process.cpuUsage(), machine: machineCpuSeconds() }
          return () => {
            const clientsUs = process.cpuUsage(from.clients)
            used = { clients: (clientsUs.user + clientsUs.system) / 1e6, machine: machineCpuSeconds() - from.machine }
            return proxy()
          }
        }
        const result = await closedLoop(
          clients.map((c) => echoCall(c.client)),
          { warmupMs: 500, durationMs: 2_500, probe },
        )
        const perCall = (seconds: number) => (seconds * 1e6) / Math.max(1, result.latencyMs.n)
        await Promise.all(clients.map((c) => c.close()))
        const s = samples.get(`${n}\t${side.label}`) ?? columns.map((): Array<number> => [])
        const values = [result.latencyMs.p50, result.perSecond, perCall(result.probed ?? Number.NaN), perCall(used.clients), perCall(used.machine)]
        for (const [i, value] of values.entries()) s[i]?.push(value)
        samples.set(`${n}\t${side.label}`, s)
      }
    }
    console.error(`compare: round ${round + 1}/${rounds}`)
  }
  console.log(`load average (1 / 5 / 15 min): ${loadAtStart} at the start, ${loadNow()} at the end`)
  console.log(["clients", "side", ...columns].join("\t"))
  for (const [key, s] of samples) {
    const cells = s.map((xs, i) => {
      const m = median(xs)
      return Number.isNaN(m) ? "–" : i === 0 ? m.toFixed(3) : String(Math.round(m))
    })
    console.log([key, ...cells].join("\t"))
  }
} finally {
  await cleanUp()
  rmSync(runDir, { recursive: true, force: true })
}
