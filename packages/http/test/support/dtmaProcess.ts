import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { request as httpsRequestRaw } from "node:https"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

const MAIN = join(import.meta.dirname, "..", "..", "src", "main.ts")

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

/** A real DTMA process (the `dtma` entry point) on a loopback port, with its own state directory. */
export interface DtmaProcess {
  readonly url: string
  readonly token: string | null
  readonly stateDir: string
  /** Its `DTMA_SCOPE`: the containers it manages carry `dtma.managed=<scope>`. */
  readonly scope: string
  /** The process id, to watch its memory or signal it. */
  readonly pid: number
  readonly output: () => string
  // JSON bodies are read freely in assertions.
  // oxlint-disable-next-line typescript/no-explicit-any
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
  kill(signal: NodeJS.Signals): Promise<void>
}

export interface StartOptions {
  readonly port?: number
  readonly stateDir?: string
  /**
   * Its `DTMA_SCOPE`; a fresh one by default, so that DTMAs of concurrent test runs on one engine
   * never adopt each other's containers. Pass the previous one to restart "the same" DTMA.
   */
  readonly scope?: string
  /** The inbound token to configure; `null` configures none, so the DTMA generates one. */
  readonly token?: string | null
  readonly env?: Record<string, string>
  /**
   * The DTMA serves HTTPS (`env` names its DTMA_TLS_* files): its URL is `https://` and the process's
   * own requests (start-up polling, `call`) trust `ca`.
   */
  readonly https?: { readonly ca: string }
}

/** One request over HTTPS trusting `ca` (fetch cannot be given a CA without undici). */
export const httpsRequest = (
  url: string,
  init: { readonly method?: string; readonly headers?: Record<string, string>; readonly body?: string; readonly ca: string },
): Promise<{ status: number; text: string }> =>
  new Promise((resolve, reject) => {
    const req = httpsRequestRaw(url, { method: init.method ?? "GET", headers: init.headers ?? {}, ca: init.ca }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => (text += chunk))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end(init.body)
  })

export const startDtma = async (options: StartOptions = {}): Promise<DtmaProcess> => {
  const port = options.port ?? (await freePort())
  const token = options.token === undefined ? "e2e-inbound-token" : options.token
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "dtma-state-"))
  const scope = options.scope ?? `test-${process.pid}-${Math.random().toString(36).slice(2, 10)}`
  let output = ""
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? "",
      PORT: String(port),
      DTMA_HOST: "127.0.0.1",
      ...(token === null ? {} : { BACKEND_TO_DTMA_API_KEY: token }),
      DTMA_STATE_DIR: stateDir,
      DTMA_SCOPE: scope,
      // One credential directory per scope (on memory, short enough for socket paths): a DTMA wipes
      // what it finds there for servers it does not have, so two must never share one.
      DTMA_CREDENTIALS_DIR: `/dev/shm/dtma-${scope.replace(/[^A-Za-z0-9]/g, "").slice(-12)}`,
      DTMA_CONFIG_FILE: join(stateDir, "absent.conf"),
      // The run's own audit file, not the machine's /var/log/dtma.
      DTMA_AUDIT_LOG: join(stateDir, "audit.jsonl"),
      LOG_LEVEL: "info",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  })
  child.stdout?.on("data", (c: Buffer) => (output += c.toString()))
  child.stderr?.on("data", (c: Buffer) => (output += c.toString()))
  const https = options.https
  const url = `${https === undefined ? "http" : "https"}://127.0.0.1:${port}`
  const healthy = () =>
    https === undefined
      ? fetch(`${url}/health`).then(
          (r) => r.ok,
          () => false,
        )
      : httpsRequest(`${url}/health`, { ca: https.ca }).then(
          (r) => r.status === 200,
          () => false,
        )
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the DTMA exited at start:\n${output}`)
    if (await healthy()) break
    if (i > 150) {
      // Never leave a process behind that nobody can stop.
      child.kill("SIGKILL")
      throw new Error(`the DTMA did not answer /health:\n${output}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    token,
    stateDir,
    scope,
    pid: child.pid ?? -1,
    output: () => output,
    async call(method, path, body) {
      const init = {
        method,
        headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }
      const response =
        https === undefined
          ? await fetch(`${url}${path}`, init).then(async (r) => ({ status: r.status, text: await r.text() }))
          : await httpsRequest(`${url}${path}`, { ...init, ca: https.ca })
      const text = response.text
      let parsed: unknown = text
      try {
        parsed = JSON.parse(text)
      } catch {
        // a text body (/health)
      }
      return { status: response.status, body: parsed }
    },
    async kill(signal) {
      child.kill(signal)
      await exited
    },
  }
}
