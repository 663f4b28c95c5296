// `pnpm bench`: every figure in one run, written to bench/results/<timestamp>.{json,md} and, for a
// full run, into docs/performance.md. `pnpm bench --quick`: a small run for CI (no timing checks).
// Options: --quick, --only=<figure,...> (coldStart, callOverhead, agentEndpoint, eras, discovery, density, refresh, profile),
// --no-profile, --no-docs. Exits 1 if a figure failed or any call/poll got a wrong answer.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { agentEndpointLoads, measureAgentEndpoint } from "./agentEndpoint.ts"
import { measureCallOverhead } from "./callOverhead.ts"
import { measureColdStart } from "./coldStart.ts"
import { erasLoads, measureEras } from "./eras.ts"
import { MEMORY_IMAGE, type BenchContext } from "./context.ts"
import { measureDensity, type DensityRun } from "./density.ts"
import { measureDiscovery, type DiscoveryRun } from "./discovery.ts"
import { cleanUp, cleanUpOnSignals, onCleanup } from "./lib/cleanup.ts"
import { removeLabelled, BENCH_LABEL } from "./lib/docker.ts"
import { startBenchDtma } from "./lib/dtma.ts"
import { makeFleet } from "./lib/fleet.ts"
import { describeMachine, loadAverage } from "./lib/machine.ts"
import { buildSupergatewayImage } from "./lib/supergateway.ts"
import { fleetSizes, FULL_PLAN, QUICK_PLAN } from "./plan.ts"
import { measureProfile } from "./profile.ts"
import { measureRefresh } from "./refresh.ts"
import { renderReport, updateDocs, type BenchResults } from "./report.ts"

const FIGURES = ["coldStart", "callOverhead", "agentEndpoint", "eras", "discovery", "density", "refresh", "profile"] as const
type Figure = (typeof FIGURES)[number]

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(`--${name}`)
const only = args
  .find((a) => a.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",")
for (const a of args) if (!/^--(quick|no-profile|no-docs|only=.*)$/.test(a)) throw new Error(`unknown option ${a}; see the head of bench/run.ts`)
for (const f of only ?? []) if (!(FIGURES as ReadonlyArray<string>).includes(f)) throw new Error(`unknown figure ${f}: one of ${FIGURES.join(", ")}`)
const wanted = (f: Figure) => (only === undefined ? f !== "profile" || !flag("no-profile") : only.includes(f))

const plan = flag("quick") ? QUICK_PLAN : FULL_PLAN
const root = join(import.meta.dirname, "..")
const stamp = new Date()
  .toISOString()
  .replace(/\.\d+Z$/, "Z")
  .replaceAll(":", "-")
const runId = `bench${Date.now().toString(36)}`
const runDir = mkdtempSync(join(tmpdir(), `dtma-${runId}-`))
const log = (line: string) => console.error(`bench: ${line}`)
const failures: Array<string> = []

/** Runs one figure; a failure is recorded and the run goes on to the next. */
const attempt = async <T>(figure: string, measure: () => Promise<T>): Promise<T | null> => {
  try {
    return await measure()
  } catch (error) {
    failures.push(`${figure}: ${error instanceof Error ? error.message : String(error)}`)
    log(`${figure} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    return null
  }
}

cleanUpOnSignals()
onCleanup("the bench's own containers", () => removeLabelled(`${BENCH_LABEL}=${runId}`))
const startedAt = new Date().toISOString()
const loadStart = loadAverage()
const machine = describeMachine()
log(`run ${runId} (${plan.quick ? "quick" : "full"}), load average ${loadStart.one} / ${loadStart.five} / ${loadStart.fifteen}; scratch in ${runDir}`)
let results: BenchResults | null = null
try {
  if (wanted("callOverhead")) await buildSupergatewayImage()
  const dtma = await startBenchDtma({ runDir, scope: `bench-${runId}` })
  const ctx: BenchContext = { runId, runDir, plan, dtma, log }
  const coldStart = wanted("coldStart") ? await attempt("cold start", () => measureColdStart(ctx)) : null
  const callOverhead = wanted("callOverhead") ? await attempt("call overhead", () => measureCallOverhead(ctx)) : null
  const agentEndpoint = wanted("agentEndpoint") ? await attempt("agent endpoint", () => measureAgentEndpoint(ctx)) : null
  const eras = wanted("eras") ? await attempt("both protocol eras", () => measureEras(ctx)) : null
  const discovery: Array<DiscoveryRun> = []
  const density: Array<DensityRun> = []
  if (wanted("discovery") || wanted("density")) {
    const fleet = makeFleet(ctx, MEMORY_IMAGE)
    await attempt("fleet", async () => {
      for (const size of fleetSizes(plan)) {
        const forDiscovery = wanted("discovery") && plan.discoveryServers.includes(size)
        const forDensity = wanted("density") && plan.densityServers.includes(size)
        if (!forDiscovery && !forDensity) continue
        await fleet.growTo(size)
        if (forDiscovery) discovery.push(...((await attempt(`discovery at ${size}`, () => measureDiscovery(ctx, size))) ?? []))
        const idle = forDensity ? await attempt(`density at ${size}`, () => measureDensity(ctx, fleet)) : null
        if (idle !== null) density.push(idle)
      }
    })
  }
  await dtma.stop()
  // Its own DTMA, talking to a backend double that mints the tokens.
  const refresh = wanted("refresh") ? await attempt("refresh", () => measureRefresh(ctx)) : null
  const profileFile = join(root, "bench", "results", `${stamp}-dtma.cpuprofile`)
  const profile = wanted("profile") ? await attempt("profile", () => measureProfile(ctx, profileFile)) : null
  const errors = [
    ...(callOverhead?.runs ?? []),
    ...(callOverhead?.authorization ?? []).flatMap((x) => [x.a, x.b]),
    ...(agentEndpoint === null ? [] : agentEndpointLoads(agentEndpoint)),
    ...(eras === null ? [] : erasLoads(eras)),
    ...discovery,
  ].filter((r) => r.errors > 0)
  for (const r of errors) failures.push(`${r.errors} wrong or failed answers, first: ${r.firstError}`)
  results = {
    command: `pnpm bench${args.length === 0 ? "" : ` ${args.join(" ")}`}`,
    startedAt,
    finishedAt: new Date().toISOString(),
    quick: plan.quick,
    machine,
    load: { start: loadStart, end: loadAverage() },
    coldStart,
    callOverhead,
    agentEndpoint,
    eras,
    discovery: wanted("discovery") ? discovery : null,
    discoveryPollers: plan.discoveryPollers,
    density: wanted("density") ? density : null,
    refresh,
    profile,
    failures,
  }
} catch (error) {
  failures.push(`the run: ${error instanceof Error ? error.message : String(error)}`)
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
} finally {
  await cleanUp()
}

if (results !== null) {
  const report = renderReport(results)
  const dir = join(root, "bench", "results")
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(join(dir, `${stamp}.md`), report)
  console.log(report)
  log(`wrote bench/results/${stamp}.json and .md`)
  if (!plan.quick && only === undefined && !flag("no-docs") && failures.length === 0) {
    updateDocs(join(root, "docs", "performance.md"), report)
    log("updated docs/performance.md")
  }
}
if (failures.length > 0) {
  log(`FAILED: ${failures.join("; ")} (the DTMA's log and state are kept in ${runDir})`)
  process.exit(1)
}
rmSync(runDir, { recursive: true, force: true })
