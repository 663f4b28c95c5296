import { Agent } from "node:http"
import { join } from "node:path"
import { agentTokenForServers, deployStdio, EVERYTHING_IMAGE, removeServer, stdioDeploy, type BenchContext, type Table, type TargetCheck } from "./context.ts"
import type { BenchDtma } from "./lib/dtma.ts"
import { buildImage } from "./lib/docker.ts"
import { cpuPerCallUs, inTurnsCells, inTurnsHeader, inTurnsRateCells, inTurnsRateHeader, us } from "./lib/inTurnsColumns.ts"
import { alternating, mapLimit, type Alternated } from "./lib/load.ts"
import { echoCall, httpSessions, type Connected } from "./lib/mcpClients.ts"
import { cpuProbe } from "./lib/proc.ts"
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
  readonly list: ReadonlyArray<AgentListRun>
}

/** The agent endpoint's call cost is measured at these client counts (the 1 and 8). */
const CALL_CLIENTS: ReadonlyArray<number> = [1, 8]

const rounds = (ctx: BenchContext, segmentMs: number) => Math.max(2, Math.round(ctx.plan.callDurationMs / segmentMs))

/** The turns of a figure: warm-up, rounds, and the DTMA's CPU time over each arm's segments. */
const turnsOf = (ctx: BenchContext, segmentMs: number) => ({
  warmupMs: ctx.plan.callWarmupMs,
  segmentMs,
  rounds: rounds(ctx, segmentMs),
  probe: cpuProbe(ctx.dtma.pid),
})

const sessions = (url: string, token: string, n: number): Promise<ReadonlyArray<Connected>> => httpSessions(url, { authorization: `Bearer ${token}` })(n)

const closeAll = (clients: ReadonlyArray<Connected>) => Promise.all(clients.map((c) => c.close()))

/** server-everything's `echo` on its own endpoint and as `<server>__echo` on `/mcp`, with one agent token granted only it. */
export const measureAgentCalls = async (ctx: BenchContext, segmentMs: number): Promise<ReadonlyArray<AgentCallRun>> => {
  const name = `${ctx.runId}-agent`
  await deployStdio(ctx.dtma, name, EVERYTHING_IMAGE)
  const runs: Array<AgentCallRun> = []
  try {
    const token = await agentTokenForServers(ctx.dtma, [name])
    for (const n of CALL_CLIENTS) {
      const [own, joint] = await Promise.all([sessions(`${ctx.dtma.url}/mcp-servers/${name}/mcp`, token, n), sessions(`${ctx.dtma.url}/mcp`, token, n)])
      const arms = { a: own.map((c) => echoCall(c.client)), b: joint.map((c) => echoCall(c.client, `${name}__echo`)) }
      const result = await alternating(arms, turnsOf(ctx, segmentMs))
      await closeAll([...own, ...joint])
      runs.push({ clients: n, segmentMs, ...result })
      ctx.log(
        `agent endpoint: /mcp-servers/:name/mcp vs /mcp × ${n}, ${result.rounds} rounds: ` +
          `p50 ${round(result.a.latencyMs.p50)} vs ${round(result.b.latencyMs.p50)} ms, ` +
          `median round difference ${round(result.medianRoundDifferenceMs)} ms, ` +
          `DTMA CPU per call ${Math.round(cpuPerCallUs(result).a)} vs ${Math.round(cpuPerCallUs(result).b)} µs, ${result.a.errors + result.b.errors} errors`,
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

/** The list's sessions at one concurrency: `tools/list` in turns with `ping`. */
const listInTurns = async (ctx: BenchContext, options: { url: string; token: string; clients: number; segmentMs: number }) => {
  const agent = new Agent({ keepAlive: true, maxSockets: options.clients })
  const open = await Promise.all(Array.from({ length: options.clients }, () => openRawSession(agent, options.url, options.token)))
  try {
    const pings = await Promise.all(open.map((s) => checkedRequest(s, "ping")))
    const lists = await Promise.all(open.map((s) => checkedRequest(s, "tools/list")))
    const arms = { a: pings.map((p) => p.operation), b: lists.map((l) => l.operation) }
    const result = await alternating(arms, turnsOf(ctx, options.segmentMs))
    return { bodyBytes: lists[0]?.bytes ?? 0, result }
  } finally {
    await Promise.all(open.map((s) => s.close()))
    agent.destroy()
  }
}

/** `tools/list` on `/mcp` over `servers` × 50 tools at each concurrency, in turns with `ping` on the same sessions. */
export const measureAgentList = async (ctx: BenchContext, segmentMs: number): Promise<ReadonlyArray<AgentListRun>> => {
  const context = join(import.meta.dirname, "..", "images", "mcp-misbehaving")
  await buildImage({ tag: MANY_TOOLS_IMAGE, context, dockerfile: "Dockerfile", files: ["server.mjs"] })
  const servers = ctx.plan.agentListServers
  const names = Array.from({ length: servers }, (_, i) => `${ctx.runId}-list${i + 1}`)
  const deployed: Array<string> = []
  const runs: Array<AgentListRun> = []
  try {
    await mapLimit(names, ctx.plan.deployConcurrency, async (name) => {
      const { status, body } = await deployManyTools(ctx.dtma, name)
      if (status !== 201) throw new Error(`deploying ${name} (${MANY_TOOLS_IMAGE}) answered ${status}: ${JSON.stringify(body).slice(0, 500)}`)
      deployed.push(name)
    })
    const token = await agentTokenForServers(ctx.dtma, names)
    const url = `${ctx.dtma.url}/mcp`
    await checkListing(url, token, names)
    for (const clients of ctx.plan.agentListClients) {
      const { bodyBytes, result } = await listInTurns(ctx, { url, token, clients, segmentMs })
      const { a: ping, b: list } = result
      ctx.log(
        `agent endpoint: tools/list at ${servers} × ${TOOLS_PER_SERVER} tools (${bodyBytes} bytes) × ${clients} clients: ` +
          `p50 ${round(list.latencyMs.p50)} ms, p99 ${round(list.latencyMs.p99)} ms, ${Math.round(list.perSecond)}/s; ` +
          `ping p50 ${round(ping.latencyMs.p50)} ms, p99 ${round(ping.latencyMs.p99)} ms; ` +
          `DTMA CPU ${Math.round(cpuPerCallUs(result).b)} vs ${Math.round(cpuPerCallUs(result).a)} µs; ${ping.errors + list.errors} errors`,
      )
      runs.push({ servers, toolsPerServer: TOOLS_PER_SERVER, clients, segmentMs, bodyBytes, ...result })
    }
    return runs
  } finally {
    await mapLimit(deployed, ctx.plan.deployConcurrency, (name) => removeServer(ctx.dtma, name))
  }
}

/** Both figures of the agent endpoint; its servers are removed afterwards (discovery counts what is deployed). */
export const measureAgentEndpoint = async (ctx: BenchContext): Promise<AgentEndpointResult> => {
  const segmentMs = ctx.plan.quick ? 250 : 1_000
  const calls = await measureAgentCalls(ctx, segmentMs)
  const list = await measureAgentList(ctx, segmentMs)
  return { tool: "echo", warmupMs: ctx.plan.callWarmupMs, calls, list }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

export const agentCallTable = (r: AgentEndpointResult): Table => ({
  title: `The agent endpoint: server-everything \`${r.tool}\` on \`/mcp-servers/:name/mcp\` and on \`/mcp\`, same agent token, in turns`,
  header: [...inTurnsHeader("own endpoint", "/mcp"), ...inTurnsRateHeader("own endpoint", "/mcp")],
  rows: r.calls.map((x) => [...inTurnsCells(x), ...inTurnsRateCells(x)]),
  notes: [
    "N SDK sessions on the server's own endpoint calling `echo` and N on `/mcp` calling `<server>__echo`, all with one agent token granted the server; " +
      "the two take turns (which goes first alternates) after a warm-up each, so the machine's drift falls on both. Every answer is checked.",
    "On `/mcp` a call is looked up in the token's catalog (kept from memory per grants), renamed, " +
      "and sent through the same hub as on the server's own endpoint.",
  ],
})

export const agentListTable = (runs: ReadonlyArray<AgentListRun>): Table => {
  const first = runs[0]
  const shape = first === undefined ? "" : ` at ${first.servers} servers × ${first.toolsPerServer} tools (${first.bodyBytes} bytes an answer)`
  return {
    title: `The agent endpoint: \`tools/list\` on \`/mcp\`${shape}, in turns with \`ping\` on the same sessions`,
    header: ["clients", "request", "rounds", "p50 ms", "p99 ms", "requests/s", "DTMA CPU per request µs", "errors"],
    rows: runs.flatMap((r) =>
      (
        [
          ["`tools/list`", r.b, cpuPerCallUs(r).b],
          ["`ping`", r.a, cpuPerCallUs(r).a],
        ] as const
      ).map(([label, x, cpu]) => [
        String(r.clients),
        label,
        `${r.rounds} × ${r.segmentMs / 1000} s each`,
        `${round(x.latencyMs.p50)}`,
        `${round(x.latencyMs.p99)}`,
        `${Math.round(x.perSecond)}`,
        us(cpu),
        String(x.errors),
      ]),
    ),
    notes: [
      "Closed-loop sessions on keep-alive node:http sockets, one agent token granted every server. No SDK: 32 clients parsing the list " +
        "would take the DTMA's cores. Each answer must carry its request's id and the first answer's length; " +
        "the first listing is checked in full with the SDK.",
      "`ping` is answered by `/mcp` itself on the same sessions: what the HTTP path, the token and the session cost under the same load, without the list.",
    ],
  }
}

export const agentEndpointTables = (r: AgentEndpointResult): ReadonlyArray<Table> => [agentCallTable(r), agentListTable(r.list)]

const LIST_TARGET_CLIENTS = 32
const LIST_TARGET_SERVERS = 10

const listTarget = (runs: ReadonlyArray<AgentListRun>): ReadonlyArray<TargetCheck> => {
  const busiest = runs.reduce<AgentListRun | undefined>((most, r) => (most === undefined || r.clients > most.clients ? r : most), undefined)
  if (busiest === undefined) return []
  const { servers, clients } = busiest
  const quick = servers !== LIST_TARGET_SERVERS || clients !== LIST_TARGET_CLIENTS ? " (a quick run)" : ""
  return [
    {
      target: `/mcp tools/list p99 ≤ 5 ms at ${servers} servers × ${busiest.toolsPerServer} tools, ${plural(clients, "client")}${quick}`,
      measured: `${round(busiest.b.latencyMs.p99)} ms (p50 ${round(busiest.b.latencyMs.p50)} ms; ping p99 ${round(busiest.a.latencyMs.p99)} ms)`,
      met: busiest.b.latencyMs.p99 <= 5,
    },
  ]
}

export const agentEndpointTargets = (r: AgentEndpointResult): ReadonlyArray<TargetCheck> => [
  ...r.calls.map((x) => {
    const cost = x.b.latencyMs.p50 - x.a.latencyMs.p50
    return {
      target: `/mcp p50 within 0.1 ms of the server's own endpoint, ${plural(x.clients, "client")}`,
      measured: `${round(cost)} ms (${round(x.b.latencyMs.p50)} vs ${round(x.a.latencyMs.p50)} ms; by round ${round(x.medianRoundDifferenceMs)} ms)`,
      met: cost <= 0.1,
    }
  }),
  ...listTarget(r.list),
]

/** Every answer of the figure, for the run's check of wrong or failed answers. */
export const agentEndpointLoads = (r: AgentEndpointResult) => [...r.calls, ...r.list].flatMap((x) => [x.a, x.b])
