import { mkdtempSync, rmSync } from "node:fs"
import { startOAuthBackend, type OAuthBackend } from "../packages/http/test/support/oauthBackend.ts"
import type { BenchContext, Table, TargetCheck } from "./context.ts"
import { startBenchDtma, type BenchDtma } from "./lib/dtma.ts"
import { streamableHttp, type Connected } from "./lib/mcpClients.ts"
import { round, summarize, type Summary } from "./lib/stats.ts"

/** How fast a refreshed token reaches a server, for one delivery method. */
export interface RefreshRun {
  readonly method: "mounted_secrets" | "runtime_api" | "env_vars"
  readonly refreshes: number
  /** The backend minting the new token → `POST …/oauth/refresh` answered (delivered), ms. */
  readonly deliveredMs: Summary
  /** The backend minting the new token → the server's first read that returns it, ms. */
  readonly readMs: Summary
  /** Server calls during the refreshes that failed (env_vars replaces the container meanwhile). */
  readonly failedReads: number
}

const TARGET_MS = 100
const CONNECTION = "github-bench"

/** Each method's server and the tool call that makes it read its token. */
const SERVERS = {
  mounted_secrets: {
    image: "dtma/mcp-filesystem:2026.8.31",
    cmd: ["/run/secrets/dtma"],
    read: { name: "read_text_file", arguments: { path: "/run/secrets/dtma/github/access_token" } },
  },
  runtime_api: { image: "dtma/mcp-credentials:1", cmd: null, read: { name: "read-socket-credentials", arguments: { provider: "github" } } },
  env_vars: { image: "dtma/mcp-everything:2026.8.31", cmd: null, read: { name: "get-env", arguments: {} } },
} as const

const textOf = (result: unknown): string =>
  ((result as { content?: ReadonlyArray<{ type: string; text?: string }> }).content ?? []).map((c) => c.text ?? "").join("")

/**
 * Per method: a server of that method on a DTMA talking to a backend double; for each refresh, a
 * reader calls the server without pause while `POST /mcp-servers/:name/oauth/refresh` runs, and the
 * times from the backend minting the token to the refresh answering and to the first read that
 * returns it are recorded. The reads go through the DTMA's proxied endpoint, so a read's own
 * latency (a few ms) is part of the second figure.
 */
export const measureRefresh = async (ctx: BenchContext): Promise<ReadonlyArray<RefreshRun>> => {
  const backend = await startOAuthBackend({ connections: { [CONNECTION]: { provider: "github", scopes: ["repo"], lifetimeSeconds: 3600 } } })
  const credentialsDir = mkdtempSync(`/dev/shm/dtma-b${ctx.runId.slice(-6)}-`)
  let dtma: BenchDtma | null = null
  try {
    dtma = await startBenchDtma({
      runDir: ctx.runDir,
      scope: `bench-refresh-${ctx.runId}`,
      env: { AGENTOPIA_API_BASE_URL: backend.url, DTMA_BEARER_TOKEN: backend.token, DTMA_CREDENTIALS_DIR: credentialsDir },
    })
    const runs: Array<RefreshRun> = []
    for (const method of ["mounted_secrets", "runtime_api", "env_vars"] as const) runs.push(await measureMethod(ctx, dtma, backend, method))
    return runs
  } finally {
    await dtma?.stop()
    await backend.close()
    rmSync(credentialsDir, { recursive: true, force: true })
  }
}

const measureMethod = async (ctx: BenchContext, dtma: BenchDtma, backend: OAuthBackend, method: RefreshRun["method"]): Promise<RefreshRun> => {
  const server = SERVERS[method]
  const name = `${ctx.runId}-refresh-${method.replace("_", "-")}`
  const deployed = await dtma.call("POST", "/mcp-servers", {
    dockerImageUrl: server.image,
    instanceNameOnToolbox: name,
    accountToolInstanceId: `ati-${name}`,
    mcpTransportType: "stdio",
    agentId: "agent-bench",
    oauthConnectionIds: [CONNECTION],
    credentialInjectionMethod: method,
    refreshStrategy: "on_demand",
    ...(server.cmd === null ? {} : { baseConfigOverrideJson: { Cmd: server.cmd } }),
  })
  if (deployed.status !== 201) throw new Error(`deploying the ${method} server answered ${deployed.status}: ${JSON.stringify(deployed.body).slice(0, 400)}`)
  const client: Connected = await streamableHttp(`${dtma.url}/mcp-servers/${encodeURIComponent(name)}/mcp`, { authorization: `Bearer ${dtma.token}` })
  const delivered: Array<number> = []
  const read: Array<number> = []
  let failedReads = 0
  const refreshes = ctx.plan.quick ? 2 : method === "env_vars" ? 5 : 20
  try {
    for (let i = 0; i < refreshes; i++) {
      const before = backend.minted.length
      let seen: number | null = null
      let reading = true
      const reader = (async () => {
        // oxlint-disable-next-line eslint/no-unmodified-loop-condition -- both are set outside this loop, while it awaits
        while (reading && seen === null) {
          try {
            const text = textOf(await client.client.callTool(server.read))
            const token = backend.minted[before]?.token
            if (token !== undefined && text.includes(token)) seen = Date.now()
          } catch {
            failedReads++
          }
        }
      })()
      let answeredAt = 0
      let minted: (typeof backend.minted)[number] | undefined
      try {
        const answer = await dtma.call("POST", `/mcp-servers/${encodeURIComponent(name)}/oauth/refresh`)
        answeredAt = Date.now()
        if (answer.status !== 200) throw new Error(`refresh of the ${method} server answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`)
        minted = backend.minted[before]
        if (minted === undefined) throw new Error(`the ${method} refresh minted no token`)
        const deadline = Date.now() + 30_000
        // oxlint-disable-next-line eslint/no-unmodified-loop-condition -- the reader sets it
        while (seen === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1))
      } finally {
        // A failed refresh must not leave the reader calling a server that is about to go away.
        reading = false
        await reader
      }
      if (seen === null) throw new Error(`the ${method} server never read the refreshed token`)
      delivered.push(answeredAt - minted.at)
      read.push(seen - minted.at)
    }
  } finally {
    await client.close()
    await dtma.call("DELETE", `/mcp-servers/${encodeURIComponent(name)}`)
  }
  const run = { method, refreshes, deliveredMs: summarize(delivered), readMs: summarize(read), failedReads }
  ctx.log(
    `refresh ${method}: delivered p50 ${round(run.deliveredMs.p50)} ms, ` +
      `read p50 ${round(run.readMs.p50)} ms (max ${round(run.readMs.max)}), ${failedReads} failed reads`,
  )
  return run
}

export const refreshTable = (runs: ReadonlyArray<RefreshRun>): Table => ({
  title: "Refresh delivery: backend mints a token → the server has it",
  header: ["method", "refreshes", "→ delivered (refresh answered), p50 / max ms", "→ first read by the server, p50 / max ms", "failed server calls"],
  rows: runs.map((r) => [
    r.method,
    String(r.refreshes),
    `${round(r.deliveredMs.p50)} / ${round(r.deliveredMs.max)}`,
    `${round(r.readMs.p50)} / ${round(r.readMs.max)}`,
    String(r.failedReads),
  ]),
  notes: [
    "Reads are tool calls through the DTMA's endpoint in a loop " +
      "(server-filesystem `read_text_file`, the project's socket fixture, server-everything `get-env`), so a read's own latency is included.",
    "env_vars has no live delivery: a replacement container is started, made ready and swapped in, " +
      "which is why it takes seconds and is not held to the 100 ms target.",
  ],
})

export const refreshTargets = (runs: ReadonlyArray<RefreshRun>): ReadonlyArray<TargetCheck> =>
  runs
    .filter((r) => r.method !== "env_vars")
    .map((r) => ({
      target: `refresh delivery (${r.method}) < ${TARGET_MS} ms`,
      measured: `${round(r.readMs.p50)} ms p50 to the first read (max ${round(r.readMs.max)})`,
      met: r.readMs.max < TARGET_MS,
    }))
