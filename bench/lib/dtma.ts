import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, openSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve as resolvePath } from "node:path"
import { dtmaLaunchArgs } from "../../packages/http/src/nodeFlags.ts"
import { onCleanup } from "./cleanup.ts"
import { removeLabelled } from "./docker.ts"
import { freePort } from "./ports.ts"

const ROOT = join(import.meta.dirname, "..", "..")

/** The DTMA under test: a real process of the built DTMA (as `scripts/start.sh` runs it) with its own scope and state. */
export interface BenchDtma {
  readonly url: string
  readonly token: string
  readonly pid: number
  /** Its `DTMA_SCOPE`: its containers carry `dtma.managed=<scope>`. */
  readonly scope: string
  readonly logFile: string
  // oxlint-disable-next-line typescript/no-explicit-any -- JSON bodies, read by the figures
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
  /** SIGTERM (SIGKILL after 20 s), then removes every container of its scope. */
  stop(): Promise<void>
}

export interface StartOptions {
  readonly runDir: string
  readonly scope: string
  readonly env?: Readonly<Record<string, string>>
  /** Extra `node` flags, e.g. `--cpu-prof`. */
  readonly nodeFlags?: ReadonlyArray<string>
  /** The checkout whose DTMA to run (`dtmaLaunchArgs`); this one by default (another, to compare versions). */
  readonly checkout?: string
}

export const startBenchDtma = async (options: StartOptions): Promise<BenchDtma> => {
  const port = await freePort()
  const token = randomBytes(24).toString("hex")
  const stateDir = join(options.runDir, `state-${options.scope}`)
  mkdirSync(stateDir, { recursive: true })
  const logFile = join(options.runDir, `${options.scope}.log`)
  const log = openSync(logFile, "a")
  const child = spawn(process.execPath, dtmaLaunchArgs(resolvePath(options.checkout ?? ROOT), options.nodeFlags), {
    env: {
      PATH: process.env["PATH"] ?? "",
      PORT: String(port),
      DTMA_HOST: "127.0.0.1",
      BACKEND_TO_DTMA_API_KEY: token,
      DTMA_STATE_DIR: stateDir,
      DTMA_SCOPE: options.scope,
      DTMA_CONFIG_FILE: join(stateDir, "absent.conf"),
      DTMA_AUDIT_LOG: join(stateDir, "audit.jsonl"),
      LOG_LEVEL: "info",
      // The bench's agent calls hundreds of times a second: the limiter still runs, but never refuses.
      DTMA_AGENT_RATE_PER_S: "100000",
      DTMA_AGENT_BURST: "100000",
      ...options.env,
    },
    stdio: ["ignore", log, log],
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  let stopping: Promise<void> | null = null
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        const killer = setTimeout(() => child.kill("SIGKILL"), 20_000)
        await exited
        clearTimeout(killer)
      }
      await removeLabelled(`dtma.managed=${options.scope}`)
    })())
  onCleanup(`the DTMA ${options.scope}`, stop)
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the DTMA exited at start; see ${logFile}`)
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break
    if (i > 300) throw new Error(`the DTMA did not answer /health in 30 s; see ${logFile}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    token,
    pid: child.pid ?? -1,
    scope: options.scope,
    logFile,
    async call(method, path, body) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      const text = await response.text()
      try {
        return { status: response.status, body: JSON.parse(text) as unknown }
      } catch {
        return { status: response.status, body: text }
      }
    },
    stop,
  }
}

/** A profiling script's run: its id (`<prefix><time>`), a scratch directory, and a profile directory in it. */
export const scriptRun = (prefix: string): { readonly runId: string; readonly runDir: string; readonly profileDir: string } => {
  const runId = `${prefix}${Date.now().toString(36)}`
  const runDir = mkdtempSync(join(tmpdir(), `dtma-${runId}-`))
  const profileDir = join(runDir, "cpu-profile")
  mkdirSync(profileDir)
  return { runId, runDir, profileDir }
}

/** The DTMA of `checkout` (a directory holding this project), started for a script's run with extra `node` flags. */
export const startCheckoutDtma = (
  run: { readonly runId: string; readonly runDir: string },
  checkout: string,
  nodeFlags: ReadonlyArray<string>,
): Promise<BenchDtma> => startBenchDtma({ runDir: run.runDir, scope: `bench-${run.runId}`, checkout, nodeFlags })
