import { execFile } from "node:child_process"
import { performance } from "node:perf_hooks"
import { promisify } from "node:util"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { agentTokenFor, deployStdio, EVERYTHING_IMAGE, removeServer, type BenchContext, type Table, type TargetCheck } from "./context.ts"
import { BENCH_LABEL, HARDENED_STDIO_FLAGS } from "./lib/docker.ts"
import { echoCall, streamableHttp } from "./lib/mcpClients.ts"
import { onCleanup } from "./lib/cleanup.ts"
import { round, summarize, type Summary } from "./lib/stats.ts"

const run = promisify(execFile)

/** Cold start: a new container to `tools/list` answered, directly and through the DTMA, in ms. */
export interface ColdStartResult {
  readonly image: string
  /** `docker run -i` with the DTMA's hardening flags, then `initialize` + `tools/list` over its stdio. */
  readonly floorHardened: Summary
  /** Plain `docker run -i` (Docker's default network and limits), then the same. */
  readonly floorPlain: Summary
  /** `POST /mcp-servers` (stdio) until the 201. */
  readonly dtma: Summary
  /**
   * A `per_agent` stdio server's instance for an agent it has not served: the agent's `initialize`
   * (which waits for its new container to be ready) + `tools/list` on the server's endpoint.
   */
  readonly perAgent: Summary
}

const floorOnce = async (ctx: BenchContext, name: string, hardened: boolean): Promise<number> => {
  const args = ["run", "-i", "--rm", "--name", name, "--label", `${BENCH_LABEL}=${ctx.runId}`, ...(hardened ? HARDENED_STDIO_FLAGS : []), EVERYTHING_IMAGE]
  const removeContainer = () => run("docker", ["rm", "-f", name]).catch(() => undefined)
  onCleanup(`container ${name}`, removeContainer)
  const started = performance.now()
  const client = new Client({ name: "dtma-bench", version: "1.0.0" })
  await client.connect(new StdioClientTransport({ command: "docker", args, stderr: "ignore" }), { timeout: 60_000 })
  await client.listTools()
  const ms = performance.now() - started
  await removeContainer()
  await client.close()
  return ms
}

const dtmaOnce = async (ctx: BenchContext, name: string): Promise<number> => {
  const started = performance.now()
  await deployStdio(ctx.dtma, name, EVERYTHING_IMAGE)
  const ms = performance.now() - started
  await removeServer(ctx.dtma, name)
  return ms
}

/** A new agent (`agentId`) of the `per_agent` server `name`: its first `initialize` + `tools/list`, in ms; checked by one call after. */
const perAgentOnce = async (ctx: BenchContext, name: string, agentId: string): Promise<number> => {
  const token = await agentTokenFor(ctx.dtma, name, agentId)
  const started = performance.now()
  const { client, close } = await streamableHttp(`${ctx.dtma.url}/mcp-servers/${encodeURIComponent(name)}/mcp`, { authorization: `Bearer ${token}` })
  await client.listTools()
  const ms = performance.now() - started
  await echoCall(client)(0)
  await close()
  return ms
}

/** The four paths take turns, so that a slower minute of the machine weighs on each alike. */
export const measureColdStart = async (ctx: BenchContext): Promise<ColdStartResult> => {
  const hardened: Array<number> = []
  const plain: Array<number> = []
  const dtma: Array<number> = []
  const perAgent: Array<number> = []
  const isolated = `${ctx.runId}-isolated`
  await deployStdio(ctx.dtma, isolated, EVERYTHING_IMAGE, "per_agent")
  for (let i = 0; i < ctx.plan.coldStarts; i++) {
    hardened.push(await floorOnce(ctx, `${ctx.runId}-floor-h${i}`, true))
    plain.push(await floorOnce(ctx, `${ctx.runId}-floor-p${i}`, false))
    dtma.push(await dtmaOnce(ctx, `${ctx.runId}-cold-${i}`))
    perAgent.push(await perAgentOnce(ctx, isolated, `bench-agent-${i}`))
    ctx.log(
      `cold start ${i + 1}/${ctx.plan.coldStarts}: floor ${Math.round(hardened.at(-1) ?? 0)} ms ` +
        `(plain ${Math.round(plain.at(-1) ?? 0)} ms), DTMA ${Math.round(dtma.at(-1) ?? 0)} ms, ` +
        `per-agent instance ${Math.round(perAgent.at(-1) ?? 0)} ms`,
    )
  }
  // Removing the server removes every agent's instance with it.
  await removeServer(ctx.dtma, isolated)
  return { image: EVERYTHING_IMAGE, floorHardened: summarize(hardened), floorPlain: summarize(plain), dtma: summarize(dtma), perAgent: summarize(perAgent) }
}

/** The floor is the faster of the two `docker run`s, by median. */
const floorOf = (r: ColdStartResult): Summary => (r.floorPlain.p50 < r.floorHardened.p50 ? r.floorPlain : r.floorHardened)

export const coldStartTable = (r: ColdStartResult): Table => {
  const floor = floorOf(r).p50
  const row = (path: string, s: Summary) => [path, `${round(s.p50)}`, `${round(s.max)}`, `${round(s.p50 / floor)}×`]
  return {
    title: `Cold start: new container to \`tools/list\` answered (${r.image}, ${r.dtma.n} starts each)`,
    header: ["path", "median ms", "max ms", "median / floor"],
    rows: [
      row("floor: `docker run -i` + DTMA hardening flags, `initialize` + `tools/list` over stdio", r.floorHardened),
      row("floor: plain `docker run -i`, the same", r.floorPlain),
      row("DTMA: `POST /mcp-servers` (stdio) until `201`", r.dtma),
      row("DTMA: a `per_agent` server's new agent, its `initialize` (its instance started) + `tools/list`", r.perAgent),
    ],
  }
}

export const coldStartTargets = (r: ColdStartResult): ReadonlyArray<TargetCheck> => {
  const ratio = r.dtma.p50 / floorOf(r).p50
  return [
    {
      target: "cold start ≤ 1.2× the floor (medians)",
      measured: `${round(ratio)}× (${round(r.dtma.p50)} ms vs ${round(floorOf(r).p50)} ms)`,
      met: ratio <= 1.2,
    },
    {
      target: "a `per_agent` instance's cold start ≤ 1.2× the floor (medians)",
      measured: `${round(r.perAgent.p50 / floorOf(r).p50)}× (${round(r.perAgent.p50)} ms vs ${round(floorOf(r).p50)} ms)`,
      met: r.perAgent.p50 / floorOf(r).p50 <= 1.2,
    },
  ]
}
