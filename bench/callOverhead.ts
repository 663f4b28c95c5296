import { agentTokenFor, deployStdio, EVERYTHING_IMAGE, removeServer, type BenchContext, type Table, type TargetCheck } from "./context.ts"
import { closedLoop, type LoadResult } from "./lib/load.ts"
import { connectWhenReady, directStdio, echoCall, streamableHttp, type Connected } from "./lib/mcpClients.ts"
import { round } from "./lib/stats.ts"
import { startSupergateway } from "./lib/supergateway.ts"

export type CallPath = "direct" | "dtma" | "dtma-agent" | "supergateway"

/** One path at one concurrency. */
export interface CallRun extends LoadResult {
  readonly path: CallPath
}

export interface CallOverheadResult {
  readonly tool: string
  readonly warmupMs: number
  readonly durationMs: number
  readonly runs: ReadonlyArray<CallRun>
}

/** How `clients` concurrent clients reach the server on each path. */
interface PathSetup {
  readonly path: CallPath
  /** Opens `n` clients (on the direct path: `n` callers sharing the one stdio connection). */
  open(n: number): Promise<ReadonlyArray<Connected>>
  close(): Promise<void>
}

const sessions =
  (url: string, headers: Record<string, string> = {}) =>
  (n: number) =>
    Promise.all(Array.from({ length: n }, () => connectWhenReady(() => streamableHttp(url, headers), 30_000)))

const setUp = async (ctx: BenchContext): Promise<ReadonlyArray<PathSetup>> => {
  const direct = await directStdio({ image: EVERYTHING_IMAGE, name: `${ctx.runId}-direct`, runId: ctx.runId })
  const name = `${ctx.runId}-echo`
  await deployStdio(ctx.dtma, name, EVERYTHING_IMAGE)
  const agentToken = await agentTokenFor(ctx.dtma, name)
  const gateway = await startSupergateway({ name: `${ctx.runId}-supergateway`, runId: ctx.runId })
  const shared: Connected = { client: direct.client, close: async () => undefined }
  const endpoint = `${ctx.dtma.url}/mcp-servers/${name}/mcp`
  return [
    { path: "direct", open: async (n) => Array.from({ length: n }, () => shared), close: () => direct.close() },
    { path: "dtma", open: sessions(endpoint, { authorization: `Bearer ${ctx.dtma.token}` }), close: async () => undefined },
    // The same endpoint with an agent token: what verifying it, the grant check and the rate limit add.
    { path: "dtma-agent", open: sessions(endpoint, { authorization: `Bearer ${agentToken}` }), close: () => removeServer(ctx.dtma, name) },
    { path: "supergateway", open: sessions(gateway.url), close: () => gateway.stop() },
  ]
}

/**
 * server-everything's `echo` directly over the container's stdio, through the DTMA's endpoint and
 * through supergateway, at each concurrency; the three paths take turns at each level.
 */
export const measureCallOverhead = async (ctx: BenchContext): Promise<CallOverheadResult> => {
  const paths = await setUp(ctx)
  const runs: Array<CallRun> = []
  try {
    for (const n of ctx.plan.callClients) {
      for (const setup of paths) {
        const clients = await setup.open(n)
        const result = await closedLoop(
          clients.map((c) => echoCall(c.client)),
          { warmupMs: ctx.plan.callWarmupMs, durationMs: ctx.plan.callDurationMs },
        )
        await Promise.all(clients.map((c) => c.close()))
        runs.push({ path: setup.path, ...result })
        ctx.log(
          `calls: ${setup.path} × ${n}: p50 ${round(result.latencyMs.p50)} ms, p99 ${round(result.latencyMs.p99)} ms, ` +
            `${Math.round(result.perSecond)}/s, ${result.errors} errors`,
        )
      }
    }
  } finally {
    for (const setup of paths) await setup.close()
  }
  return { tool: "echo", warmupMs: ctx.plan.callWarmupMs, durationMs: ctx.plan.callDurationMs, runs }
}

const find = (r: CallOverheadResult, path: CallPath, clients: number) => r.runs.find((x) => x.path === path && x.clients === clients)

export const callOverheadTable = (r: CallOverheadResult): Table => ({
  title:
    `Call overhead: server-everything \`${r.tool}\`, distinct arguments per call ` +
    `(${r.warmupMs / 1000} s warm-up, ${r.durationMs / 1000} s measured per row)`,
  header: ["clients", "path", "p50 ms", "p99 ms", "calls/s", "p50 over direct ms", "errors"],
  rows: r.runs.map((x) => {
    const direct = find(r, "direct", x.clients)
    const over = direct === undefined || x.path === "direct" ? "–" : `${round(x.latencyMs.p50 - direct.latencyMs.p50)}`
    return [String(x.clients), x.path, `${round(x.latencyMs.p50)}`, `${round(x.latencyMs.p99)}`, `${Math.round(x.perSecond)}`, over, String(x.errors)]
  }),
  notes: [
    "direct: the bench's own SDK client on a Docker attach stream of a container run with the DTMA's flags; N callers share that one connection.",
    "dtma: N SDK clients (N sessions) on `/mcp-servers/:name/mcp`, sharing the DTMA's one upstream connection, with the operator key.",
    "dtma-agent: the same with an agent token from `POST /agent-tokens` granted the server (verified, grant-checked and rate-limited on every request).",
    "supergateway: N SDK clients on supergateway 4.0.0 `--stateful` in a container with the same server; it runs one server process per session.",
  ],
})

export const callOverheadTargets = (r: CallOverheadResult): ReadonlyArray<TargetCheck> =>
  [...new Set(r.runs.map((x) => x.clients))].flatMap((n) => {
    const [direct, dtma, peer] = (["direct", "dtma", "supergateway"] as const).map((p) => find(r, p, n)?.latencyMs.p50 ?? Number.NaN)
    const over = (dtma ?? Number.NaN) - (direct ?? Number.NaN)
    const peerOver = (peer ?? Number.NaN) - (direct ?? Number.NaN)
    const agent = find(r, "dtma-agent", n)?.latencyMs.p50 ?? Number.NaN
    const authorization = agent - (dtma ?? Number.NaN)
    return [
      { target: `proxy p50 overhead ≤ 1 ms over direct, ${n} client${n === 1 ? "" : "s"}`, measured: `${round(over)} ms`, met: over <= 1 },
      {
        target: `agent token p50 cost < 0.05 ms over the operator key, ${n} client${n === 1 ? "" : "s"}`,
        measured: `${round(authorization)} ms (${round(agent)} vs ${round(dtma ?? Number.NaN)} ms)`,
        met: authorization < 0.05,
      },
      {
        target: `proxy p50 overhead below supergateway's, ${n} client${n === 1 ? "" : "s"}`,
        measured: `${round(over)} ms vs ${round(peerOver)} ms`,
        met: over < peerOver,
      },
    ]
  })
