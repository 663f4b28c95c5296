import { randomBytes } from "node:crypto"
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeApi } from "./api.ts"
import { startClientPool } from "./clientPool.ts"
import { startBackend } from "./backend.ts"
import { imageExists, missingBridge, removeScope } from "./docker.ts"
import { freeLowPort, startDtma, type DtmaSettings } from "./dtmaProcess.ts"
import { runChaos } from "./faults/chaos.ts"
import { MISBEHAVING } from "./faults/misbehaving.ts"
import { FAULT_KINDS, type FaultContext } from "./faults/types.ts"
import { deployFleet, fleetOf, EVERYTHING, MEMORY, WEBSOCKET } from "./fleet.ts"
import { fdsOf, socketKindsOf, startSampler } from "./proc.ts"
import { finish } from "./finish.ts"
import { SETTINGS } from "./settings.ts"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Runs the soak for `durationMs` of chaos and writes its result; whether it passed, and the summary line. */
export const runSoak = async (
  durationMs: number,
  outDir: string,
  log: (line: string) => void,
): Promise<{ readonly pass: boolean; readonly summary: string }> => {
  for (const image of [EVERYTHING, MEMORY, WEBSOCKET])
    if (!(await imageExists(image))) throw new Error(`image ${image} is missing: run bash scripts/build-images.sh`)
  const bridge = await missingBridge()
  if (bridge !== null)
    throw new Error(
      `the engine's bridge interface ${bridge} is missing from the host, so no server with a published port can start ` +
        "(a dockerd started with --bridge=none in this network namespace deletes it)",
    )
  const skipped = (await imageExists(MISBEHAVING)) ? [] : ["misbehaving"]
  const kinds = FAULT_KINDS.filter((k) => !skipped.includes(k))
  const run = `soak${Date.now().toString(36)}`
  const stamp = new Date().toISOString().replace(/[:.]/g, "-")
  mkdirSync(outDir, { recursive: true })
  const outboundToken = randomBytes(24).toString("base64url")
  const backend = await startBackend(outboundToken, SETTINGS.tokenLifetimeSeconds, await freeLowPort())
  const settings: DtmaSettings = {
    port: await freeLowPort(),
    scope: run,
    stateDir: mkdtempSync(join(tmpdir(), "dtma-soak-")),
    token: randomBytes(24).toString("base64url"),
    // /dev/shm is tmpfs, so the DTMA need not mount one; a directory of the run's own.
    credentialsDir: `/dev/shm/dtma-${run}`,
    backendUrl: backend.url,
    outboundToken,
    logFile: join(outDir, `${stamp}.dtma.log`),
  }
  const logStream = createWriteStream(settings.logFile, { flags: "a" })
  const holder = { dtma: await startDtma(settings, logStream) }
  const abort = () =>
    void holder.dtma
      .kill("SIGKILL")
      .then(() => removeScope(run))
      .finally(() => process.exit(130))
  process.once("SIGINT", abort)
  process.once("SIGTERM", abort)
  try {
    const api = makeApi(() => holder.dtma.url, settings.token)
    const fleet = fleetOf(run)
    log(`DTMA pid ${holder.dtma.pid} on ${holder.dtma.url}, scope ${run}, log ${settings.logFile}`)
    await sleep(2_000)
    const empty0 = fdsOf(holder.dtma.pid)
    const kinds0 = { empty: socketKindsOf(holder.dtma.pid), idle: {} as Readonly<Record<string, number>> }
    const deployMs = await deployFleet(api, fleet)
    log(`deployed ${fleet.length} servers (${deployMs.map((m) => `${m} ms`).join(", ")})`)
    await sleep(3_000)
    const idle0 = fdsOf(holder.dtma.pid)
    kinds0.idle = socketKindsOf(holder.dtma.pid)
    const metrics = async () => (await api.call("GET", "/metrics", undefined, 2_000)).body as string
    const sampler = startSampler(() => holder.dtma.pid, metrics, SETTINGS.sampleEveryMs)
    const pool = startClientPool(fleet, SETTINGS.clientsPerServer, (name) => `${api.url()}/mcp-servers/${encodeURIComponent(name)}/mcp`, settings.token)
    await sleep(SETTINGS.warmupMs)
    const ctx: FaultContext = {
      api,
      token: settings.token,
      run,
      fleet,
      restartDtma: async () => {
        await holder.dtma.kill("SIGKILL")
        holder.dtma = await startDtma(settings, logStream)
        return holder.dtma.startedAt
      },
    }
    const chaosStart = Date.now()
    log(`chaos for ${durationMs / 1000} s: ${kinds.join(", ")}${skipped.length > 0 ? ` (skipped, image absent: ${skipped.join(", ")})` : ""}`)
    const faults = await runChaos(ctx, {
      until: chaosStart + durationMs,
      kinds,
      intervalMs: SETTINGS.intervalMs,
      cooldownMs: SETTINGS.cooldownMs,
      dtmaGapMs: Math.max(60_000, durationMs / 10),
      dtmaUntil: chaosStart + durationMs / 2,
      scope: run,
      log: (line) => log(`+${((Date.now() - chaosStart) / 1000).toFixed(1)} s ${line}`),
    })
    log(`chaos over; ${SETTINGS.quietMs / 1000} s of calls with no fault`)
    await sleep(SETTINGS.quietMs)
    await pool.stop()
    return await finish({
      api,
      holder,
      settings,
      backend,
      fleet,
      pool,
      sampler,
      faults,
      empty0,
      idle0,
      kinds0,
      skipped,
      kinds,
      deployMs,
      chaosStart,
      durationMs,
      outDir,
      stamp,
      log,
    })
  } finally {
    process.off("SIGINT", abort)
    process.off("SIGTERM", abort)
    await holder.dtma.kill("SIGKILL").catch(() => undefined)
    await removeScope(run)
    logStream.end()
    await backend.close()
    rmSync(settings.stateDir, { recursive: true, force: true })
    rmSync(settings.credentialsDir, { recursive: true, force: true })
  }
}
