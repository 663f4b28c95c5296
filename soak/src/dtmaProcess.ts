import { spawn, type ChildProcess } from "node:child_process"
import { dtmaLaunchArgs } from "../../packages/http/src/nodeFlags.ts"
import { createWriteStream, type WriteStream } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"

const ROOT = join(import.meta.dirname, "..", "..")

/** Where and as whom a DTMA runs; the same settings restart "the same" DTMA after a SIGKILL. */
export interface DtmaSettings {
  readonly port: number
  readonly scope: string
  readonly stateDir: string
  readonly token: string
  /** `DTMA_CREDENTIALS_DIR`: a memory-backed directory of this run's own, checked for leftovers at the end. */
  readonly credentialsDir: string
  /** The backend stand-in (`AGENTOPIA_API_BASE_URL`) and the token the DTMA presents to it (`DTMA_BEARER_TOKEN`). */
  readonly backendUrl: string
  readonly outboundToken: string
  /** Its JSON log lines are appended here (every incarnation). */
  readonly logFile: string
}

/** One running DTMA process. */
export interface DtmaProcess {
  readonly url: string
  readonly pid: number
  readonly startedAt: number
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<string>
  kill(signal: NodeJS.Signals): Promise<string>
}

const listenable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

/** A free loopback port below 32768 (outside the kernel's ephemeral range, as the shop's rules ask). */
export const freeLowPort = async (): Promise<number> => {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (await listenable(port)) return port
  }
  throw new Error("no free port in 20000-31999")
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Starts the built DTMA (as `scripts/start.sh` runs it) with the settings and waits until `/health` answers. */
export const startDtma = async (settings: DtmaSettings, log?: WriteStream): Promise<DtmaProcess> => {
  const out = log ?? createWriteStream(settings.logFile, { flags: "a" })
  const child: ChildProcess = spawn(process.execPath, dtmaLaunchArgs(ROOT), {
    env: {
      PATH: process.env.PATH ?? "",
      PORT: String(settings.port),
      DTMA_HOST: "127.0.0.1",
      BACKEND_TO_DTMA_API_KEY: settings.token,
      DTMA_STATE_DIR: settings.stateDir,
      DTMA_SCOPE: settings.scope,
      DTMA_CONFIG_FILE: join(settings.stateDir, "absent.conf"),
      DTMA_AUDIT_LOG: join(settings.stateDir, "audit.jsonl"),
      DTMA_CREDENTIALS_DIR: settings.credentialsDir,
      AGENTOPIA_API_BASE_URL: settings.backendUrl,
      DTMA_BEARER_TOKEN: settings.outboundToken,
      LOG_LEVEL: process.env.SOAK_DTMA_LOG_LEVEL ?? "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  })
  child.stdout?.pipe(out, { end: false })
  child.stderr?.pipe(out, { end: false })
  const exited = new Promise<string>((resolve) => child.once("exit", (code, signal) => resolve(signal ?? `code ${code}`)))
  const url = `http://127.0.0.1:${settings.port}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the DTMA exited at start (${await exited}); see ${settings.logFile}`)
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break
    if (i > 300) throw new Error(`the DTMA did not answer /health within 30 s; see ${settings.logFile}`)
    await sleep(100)
  }
  return {
    url,
    pid: child.pid ?? -1,
    startedAt: Date.now(),
    exited,
    kill: async (signal) => {
      child.kill(signal)
      return exited
    },
  }
}
