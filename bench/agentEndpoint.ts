import { Agent } from "node:http"
import { join } from "node:path"
import { agentTokenForServers, deployStdio, EVERYTHING_IMAGE, removeServer, stdioDeploy, type BenchContext, type Table, type TargetCheck } from "./context.ts"
import type { BenchDtma } from "./lib/dtma.ts"
import { buildImage } from "./lib/docker.ts"
import { alternating, mapLimit, type Alternated } from "./lib/load.ts"
import { connectWhenReady, echoCall, streamableHttp, type Connected } from "./lib/mcpClients.ts"
import { checkedRequest, openRawSession } from "./lib/rawMcp.ts"
import { round } from "./lib/stats.ts"

// The agent endpoint `/mcp` (issue 14): what serving several servers as one costs a call, and how
// fast it lists a large catalog from memory.

/** `images/mcp-misbehaving` built by the bench under its own tag, so that it is this checkout's server (`MCP_TOOL_COUNT`). */
export const MANY_TOOLS_IMAGE = "dtma/bench-misbehaving:1"
export const TOOLS_PER_SERVER = 50

/** Arm `a`: the server's own endpoint; arm `b`: `/mcp`. Same server, same agent token, in turns. */
export interface AgentCallRun extends Alternated {
  readonly clients: number
  readonly segmentMs: number
}

/** Arm `a`: `ping` on `/mcp`; arm `b`: `tools/list` on `/mcp`, same sessions, in turns. */
export interface AgentListRun extends Alternated {
  readonly servers: number
  readonly toolsPerServer: number
  readonly clients: number
  readonly segmentMs: number
  /** The bytes of one `tools/list` answer. */
  readonly bodyBytes: number
}

export interface AgentEndpointResult {
  readonly tool: string
  readonly warmupMs: number
  readonly calls: ReadonlyArray<AgentCallRun>
  readonly list: AgentListRun
}

/** The agent endpoint's call cost is measured at these client counts (the issue's 1 and 8). */
const CALL_CLIENTS: ReadonlyArray<number> = [1, 8]

const rounds = (ctx: BenchContext, segmentMs: number) => Math.max(2, Math.round(ctx.plan.callDurationMs / segmentMs))

const sessions = (url: string, token: string, n: number): Promise<ReadonlyArray<Connected>> =>
  Promise.all(Array.from({ length: n }, () => connectWhenReady(() => streamableHttp(url, { authorization: `Bearer ${token}` }), 30_000)))

const closeAll = (clients: ReadonlyArray<Connected>) => Promise.all(clients.map((c) => c.close()))

/** server-everything's `echo` on its own endpoint and as `<server>__echo` on `/mcp`, with one agent token granted only it. */
const measureCalls = async (ctx: BenchContext, segmentMs: number): Promise<ReadonlyArray<AgentCallRun>> => {
  const name = `${ctx.runId}-agent`
  await deployStdio(ctx.dtma, name, EVERYTHING_IMAGE)
  const runs: Array<AgentCallRun> = []
  try {
    const token = await agentTokenForServers(ctx.dtma, [name])
    for (const n of CALL_CLIENTS) {
      const [own, joint] = await Promise.all([sessions(`${ctx.dtma.url}/mcp-servers/${name}/mcp`, token, n), sessions(`${ctx.dtma.url}/mcp`, token, n)])
      const arms = { a: own.map((c) => echoCall(c.client)), b: joint.map((c) => echoCall(c.client, `${name}__echo`)) }
      const result = await alternating(arms, { warmupMs: ctx.plan.callWarmupMs, segmentMs, rounds: rounds(ctx, segmentMs) })
      await closeAll([...own, ...joint])
      runs.push({ clients: n, segmentMs, ...result })
      ctx.log(
        `agent endpoint: /mcp-servers/:name/mcp vs /mcp × ${n}, ${result.rounds} rounds: p50 ${round(result.a.latencyMs.p50)} vs ${round(result.b.latencyMs.p50)} ms, ` +
          `median round difference ${round(result.medianRoundDifferenceMs)} ms, ${result.a.errors + result.b.errors} errors`,
      )
    }
  } finally {
    await removeServer(ctx.dtma, name)
  }
  return runs
}

const deployManyTools = (dtma: BenchDtma, name: string) =>
  dtma.call("POST", "/mcp-servers", { ...stdioDeploy(name, MANY_TOOLS_IMAGE), baseConfigOverrideJson: { Env: [`MCP_TOOL_COUNT=${TOOLS_PER_SERVER}`] } })

/** Checks once, with the SDK, that `/mcp` lists exactly every tool of every server, under its documented name. */
const checkListing = async (url: string, token: string, names: ReadonlyArray<string>): Promise<void> => {
  const [client] = await sessions(url, token, 1)
  try {
    const listed = new Set((await client!.client.listTools()).tools.map((t) => t.name))
    const expected = names.flatMap((s) => [`${s}__echo`, ...Array.from({ length: TOOLS_PER_SERVER - 1 }, (_, i) => `${s}__tool-${i + 2}`)])
    const missing = expected.filter((t) => !listed.has(t))
    if (missing.length > 0 || listed.size !== expected.length) {
      throw new Error(`/mcp lists ${listed.size} tools, ${expected.length} expected; missing ${missing.slice(0, 3).join(", ")}`)
    }
  } finally {
    await client!.close()
  }
}

/** `tools/list` on `/mcp` over `servers` × 50 tools under concurrent sessions, in turns with `ping` on the same sessions. */
const measureList = async (ctx: BenchContext, segmentMs: number): Promise<AgentListRun> => {
  await buildImage({
    tag: MANY_TOOLS_IMAGE,
    context: join(import.meta.dirname, "..", "images", "mcp-misbehaving"),
    dockerfile: "Dockerfile",
    files: ["server.mjs"],
  })
  const servers = ctx.plan.agentListServers
  const clients = ctx.plan.agentListClients
  const names = Array.from({ length: servers }, (_, i) => `${ctx.runId}-list${i + 1}`)
  const deployed: Array<string> = []
  const agent = new Agent({ keepAlive: true, maxSockets: clients })
  try {
    await mapLimit(names, ctx.plan.deployConcurrency, async (name) => {
      const { status, body } = await deployManyTools(ctx.dtma, name)
      if (status !== 201) throw new Error(`deploying ${name} (${MANY_TOOLS_IMAGE}) answered ${status}: ${JSON.stringify(body).slice(0, 500)}`)
      deployed.push(name)
    })
    const token = await agentTokenForServers(ctx.dtma, names)
    const url = `${ctx.dtma.url}/mcp`
    await checkListing(url, token, names)
    const open = await Promise.all(Array.from({ length: clients }, () => openRawSession(agent, url, token)))
    try {
      const pings = await Promise.all(open.map((s) => checkedRequest(s, "ping")))
      const lists = await Promise.all(open.map((s) => checkedRequest(s, "tools/list")))
      const arms = { a: pings.map((p) => p.operation), b: lists.map((l) => l.operation) }
      const result = await alternating(arms, { warmupMs: ctx.plan.callWarmupMs, segmentMs, rounds: rounds(ctx, segmentMs) })
      const bodyBytes = lists[0]?.bytes ?? 0
      ctx.log(
        `agent endpoint: tools/list at ${servers} × ${TOOLS_PER_SERVER} tools (${bodyBytes} bytes) × ${clients} clients: ` +
          `p50 ${round(result.b.latencyMs.p50)} ms, p99 ${round(result.b.latencyMs.p99)} ms, ${Math.round(result.b.perSecond)}/s; ` +
          `ping p50 ${round(result.a.latencyMs.p50)} ms, p99 ${round(result.a.latencyMs.p99)} ms; ${result.a.errors + result.b.errors} errors`,
      )
      return { servers, toolsPerServer: TOOLS_PER_SERVER, clients, segmentMs, bodyBytes, ...result }
    } finally {
      await Promise.all(open.map((s) => s.close()))
    }
  } finally {
    agent.destroy()
    await mapLimit(deployed, ctx.plan.deployConcurrency, (name) => removeServer(ctx.dtma, name))
  }
}

/** Both figures of the agent endpoint; its servers are removed afterwards (discovery counts what is deployed). */
export const measureAgentEndpoint = async (ctx: BenchContext): Promise<AgentEndpointResult> => {
  const segmentMs = ctx.plan.quick ? 250 : 1_000
  const calls = await measureCalls(ctx, segmentMs)
  const list = await measureList(ctx, segmentMs)
  return { tool: "echo", warmupMs: ctx.plan.callWarmupMs, calls, list }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

export const agentCallTable = (r: AgentEndpointResult): Table => ({
  title: `The agent endpoint: server-everything \`${r.tool}\` on \`/mcp-servers/:name/mcp\` and on \`/mcp\`, same agent token, in turns`,
  header: [
    "clients",
    "rounds",
    "own endpoint p50 ms",
    "/mcp p50 ms",
    "/mcp − own p50 ms",
    "median round difference ms",
    "own endpoint p99 ms",
    "/mcp p99 ms",
    "own endpoint calls/s",
    "/mcp calls/s",
    "errors",
  ],
  rows: r.calls.map((x) => [
    String(x.clients),
    `${x.rounds} × ${x.segmentMs / 1000} s each`,
    `${round(x.a.latencyMs.p50)}`,
    `${round(x.b.latencyMs.p50)}`,
    `${round(x.b.latencyMs.p50 - x.a.latencyMs.p50)}`,
    `${round(x.medianRoundDifferenceMs)}`,
    `${round(x.a.latencyMs.p99)}`,
    `${round(x.b.latencyMs.p99)}`,
    `${Math.round(x.a.perSecond)}`,
    `${Math.round(x.b.perSecond)}`,
    String(x.a.errors + x.b.errors),
  ]),
  notes: [
    "N SDK sessions on the server's own endpoint calling `echo` and N on `/mcp` calling `<server>__echo`, all with one agent token granted the server; " +
      "the two take turns (which goes first alternates) after a warm-up each, so the machine's drift falls on both. Every answer is checked.",
    "On `/mcp` a call is looked up in the token's catalog (kept from memory per grants), renamed, and sent through the same hub as on the server's own endpoint.",
  ],
})

export const agentListTable = (r: AgentListRun): Table => ({
  title:
    `The agent endpoint: \`tools/list\` on \`/mcp\` at ${r.servers} servers × ${r.toolsPerServer} tools (${r.bodyBytes} bytes an answer), ` +
    `${plural(r.clients, "client")}, in turns with \`ping\``,
  header: ["request", "rounds", "p50 ms", "p99 ms", "requests/s", "errors"],
  rows: (
    [
      ["`tools/list`", r.b],
      ["`ping` (the floor: the same sessions, no list)", r.a],
    ] as const
  ).map(([label, x]) => [
    label,
    `${r.rounds} × ${r.segmentMs / 1000} s each`,
    `${round(x.latencyMs.p50)}`,
    `${round(x.latencyMs.p99)}`,
    `${Math.round(x.perSecond)}`,
    String(x.errors),
  ]),
  notes: [
    "Closed-loop sessions on keep-alive node:http sockets (no SDK: 32 clients parsing the list would take the DTMA's cores); one agent token granted every server. " +
      "Each answer must carry its request's id and the first answer's length; the first listing is checked in full with the SDK.",
    "`ping` on the same sessions is answered by `/mcp` itself: its latency is what the HTTP path, the token and the session cost under the same load, without the list.",
  ],
})

export const agentEndpointTables = (r: AgentEndpointResult): ReadonlyArray<Table> => [agentCallTable(r), agentListTable(r.list)]

export const agentEndpointTargets = (r: AgentEndpointResult): ReadonlyArray<TargetCheck> => [
  ...r.calls.map((x) => {
    const cost = x.b.latencyMs.p50 - x.a.latencyMs.p50
    return {
      target: `/mcp p50 within 0.1 ms of the server's own endpoint, ${plural(x.clients, "client")}`,
      measured: `${round(cost)} ms (${round(x.b.latencyMs.p50)} vs ${round(x.a.latencyMs.p50)} ms; by round ${round(x.medianRoundDifferenceMs)} ms)`,
      met: cost <= 0.1,
    }
  }),
  {
    target:
      `/mcp tools/list p99 ≤ 5 ms at ${r.list.servers === 10 ? "10" : `${r.list.servers} (not 10: a quick run)`} servers × ${r.list.toolsPerServer} tools, ` +
      plural(r.list.clients, "client"),
    measured: `${round(r.list.b.latencyMs.p99)} ms (p50 ${round(r.list.b.latencyMs.p50)} ms; ping p99 ${round(r.list.a.latencyMs.p99)} ms)`,
    met: r.list.b.latencyMs.p99 <= 5,
  },
]

/** Every answer of the figure, for the run's check of wrong or failed answers. */
export const agentEndpointLoads = (r: AgentEndpointResult) => [...r.calls.flatMap((x) => [x.a, x.b]), r.list.a, r.list.b]
