import { Agent, request } from "node:http"
import { agentTokenFor, deployStdio, EVERYTHING_IMAGE, removeServer, type BenchContext, type Table } from "./context.ts"
import { inTurnsCells, inTurnsHeader, inTurnsRateCells, inTurnsRateHeader, type InTurnsRun } from "./lib/inTurnsColumns.ts"
import { alternating, type Operation } from "./lib/load.ts"
import { cpuProbe } from "./lib/proc.ts"
import { openRawSession } from "./lib/rawMcp.ts"
import { round } from "./lib/stats.ts"

// Both protocol eras on one URL (issue 15): a 2026-07-28 client's call (one POST, no session, the
// protocol version and capabilities in `_meta`, headers mirroring the body) against a 2025-era
// session's call, through the DTMA to the same 2025-era stdio server, with the same agent token.

const MODERN = "2026-07-28"

/** Arm `a`: a 2025-era session's `tools/call`; arm `b`: a 2026-07-28 `tools/call`. Same server, same token, in turns. */
export type EraCallRun = InTurnsRun

export interface ErasResult {
  readonly tool: string
  readonly runs: ReadonlyArray<EraCallRun>
}

const CLIENTS: ReadonlyArray<number> = [1, 8]

/** One POST on a keep-alive socket of `agent`; the status and the body as text. */
const post = (agent: Agent, url: URL, headers: Readonly<Record<string, string>>, body: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        agent,
        method: "POST",
        headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
        res.on("error", reject)
      },
    )
    req.on("error", reject)
    req.end(body)
  })

/** server-everything's `echo` as a 2026-07-28 client calls it; the answer must carry its message. */
const modernEcho =
  (agent: Agent, url: URL, token: string): Operation =>
  async (sequence) => {
    const message = `bench ${sequence}`
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: sequence,
      method: "tools/call",
      params: {
        name: "echo",
        arguments: { message },
        _meta: {
          "io.modelcontextprotocol/protocolVersion": MODERN,
          "io.modelcontextprotocol/clientCapabilities": {},
          "io.modelcontextprotocol/clientInfo": { name: "dtma-bench-modern", version: "1.0.0" },
        },
      },
    })
    const headers = { authorization: `Bearer ${token}`, "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "echo" }
    const answer = await post(agent, url, headers, body)
    if (answer.status !== 200 || !answer.body.includes(`Echo: ${message}"`))
      throw new Error(`a 2026-07-28 echo answered ${answer.status}: ${answer.body.slice(0, 300)}`)
  }

/** The same call in a 2025-era session (initialized once); the answer must carry its message. */
const legacyEcho = async (agent: Agent, url: string, token: string): Promise<Operation> => {
  const session = await openRawSession(agent, url, token)
  return async (sequence) => {
    const message = `bench ${sequence}`
    const answer = await session.send(sequence, "tools/call", { name: "echo", arguments: { message } })
    if (!answer.includes(`Echo: ${message}"`)) throw new Error(`a 2025-era echo answered: ${answer.slice(0, 300)}`)
  }
}

/** At 1 and 8 clients: N 2025-era sessions and N 2026-07-28 clients call `echo` in turns. */
export const measureEras = async (ctx: BenchContext): Promise<ErasResult> => {
  const segmentMs = ctx.plan.quick ? 250 : 1_000
  const name = `${ctx.runId}-eras`
  await deployStdio(ctx.dtma, name, EVERYTHING_IMAGE)
  const runs: Array<EraCallRun> = []
  try {
    const token = await agentTokenFor(ctx.dtma, name)
    const url = `${ctx.dtma.url}/mcp-servers/${name}/mcp`
    for (const n of CLIENTS) {
      const agent = new Agent({ keepAlive: true, maxSockets: 2 * n })
      try {
        const legacy = await Promise.all(Array.from({ length: n }, () => legacyEcho(agent, url, token)))
        const modern = Array.from({ length: n }, () => modernEcho(agent, new URL(url), token))
        const result = await alternating(
          { a: legacy, b: modern },
          {
            warmupMs: ctx.plan.callWarmupMs,
            segmentMs,
            rounds: Math.max(2, Math.round(ctx.plan.callDurationMs / segmentMs)),
            probe: cpuProbe(ctx.dtma.pid),
          },
        )
        runs.push({ clients: n, segmentMs, ...result })
        ctx.log(
          `eras: 2025-era vs 2026-07-28 echo × ${n}, ${result.rounds} rounds: p50 ${round(result.a.latencyMs.p50)} vs ${round(result.b.latencyMs.p50)} ms, ` +
            `${Math.round(result.a.perSecond)} vs ${Math.round(result.b.perSecond)} calls/s, ${result.a.errors + result.b.errors} errors`,
        )
      } finally {
        agent.destroy()
      }
    }
  } finally {
    await removeServer(ctx.dtma, name)
  }
  return { tool: "echo", runs }
}

export const erasTable = (r: ErasResult): Table => ({
  title: `Both protocol eras: server-everything \`${r.tool}\` through \`/mcp-servers/:name/mcp\`, a 2025-era session against a 2026-07-28 client, in turns`,
  header: [...inTurnsHeader("2025-era", "2026-07-28"), ...inTurnsRateHeader("2025-era", "2026-07-28")],
  rows: r.runs.map((x) => [...inTurnsCells(x), ...inTurnsRateCells(x)]),
  notes: [
    "Bare node:http clients on keep-alive sockets, one agent token granted the server. A 2025-era client initializes a session once and " +
      "posts each call in it; a 2026-07-28 client posts each call alone, with its protocol version and capabilities in `_meta` and the " +
      "`MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers the DTMA checks against the body, and no session. Every answer is checked.",
  ],
})

/** Every answer of the figure, for the run's check of wrong or failed answers. */
export const erasLoads = (r: ErasResult) => r.runs.flatMap((x) => [x.a, x.b])
