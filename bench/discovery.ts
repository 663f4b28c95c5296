import { Agent, request } from "node:http"
import type { BenchContext, Table, TargetCheck } from "./context.ts"
import { closedLoop, type LoadResult, type Operation } from "./lib/load.ts"
import { round } from "./lib/stats.ts"

/** `GET /mcp-servers/discovery` with `servers` deployed, with or without `If-None-Match`. */
export interface DiscoveryRun extends LoadResult {
  readonly servers: number
  readonly ifNoneMatch: boolean
  /** Size of a full (200) body, bytes. */
  readonly bodyBytes: number
}

/** One GET on `agent`: its status, ETag and body size. */
export const get = (agent: Agent, url: URL, headers: Record<string, string>): Promise<{ status: number; etag: string; bytes: number }> =>
  new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      let bytes = 0
      res.on("data", (chunk: Buffer) => (bytes += chunk.length))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, etag: String(res.headers.etag ?? ""), bytes }))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end()
  })

/**
 * `pollers` closed-loop pollers on keep-alive connections (node:http, lighter than fetch: the
 * pollers share the DTMA's two cores); a status other than 200 (304 with `If-None-Match`) is an error.
 */
export const measureDiscovery = async (ctx: BenchContext, servers: number): Promise<ReadonlyArray<DiscoveryRun>> => {
  const url = new URL(`${ctx.dtma.url}/mcp-servers/discovery`)
  const agent = new Agent({ keepAlive: true, maxSockets: ctx.plan.discoveryPollers })
  const auth = { authorization: `Bearer ${ctx.dtma.token}` }
  const first = await get(agent, url, auth)
  if (first.status !== 200) throw new Error(`discovery answered ${first.status}`)
  const listed = await ctx.dtma.call("GET", "/mcp-servers/discovery")
  const count = (listed.body?.data?.servers ?? []).length
  if (count !== servers) throw new Error(`discovery lists ${count} servers, ${servers} expected`)
  const runs: Array<DiscoveryRun> = []
  try {
    for (const ifNoneMatch of [false, true]) {
      const headers = ifNoneMatch ? { ...auth, "if-none-match": first.etag } : auth
      const expected = ifNoneMatch ? 304 : 200
      const poll: Operation = async () => {
        const { status } = await get(agent, url, headers)
        if (status !== expected) throw new Error(`discovery answered ${status}, ${expected} expected`)
      }
      const result = await closedLoop(
        Array.from({ length: ctx.plan.discoveryPollers }, () => poll),
        {
          warmupMs: ctx.plan.discoveryWarmupMs,
          durationMs: ctx.plan.discoveryDurationMs,
        },
      )
      runs.push({ servers, ifNoneMatch, bodyBytes: first.bytes, ...result })
      ctx.log(
        `discovery: ${servers} servers${ifNoneMatch ? ", If-None-Match" : ""}: ` +
          `p50 ${round(result.latencyMs.p50)} ms, p99 ${round(result.latencyMs.p99)} ms, ${Math.round(result.perSecond)}/s`,
      )
    }
  } finally {
    agent.destroy()
  }
  return runs
}

export const discoveryTable = (runs: ReadonlyArray<DiscoveryRun>, pollers: number): Table => ({
  title: `Discovery: \`GET /mcp-servers/discovery\` under ${pollers} concurrent pollers`,
  header: ["servers", "request", "p50 ms", "p99 ms", "requests/s", "body bytes", "errors"],
  rows: runs.map((r) => [
    String(r.servers),
    r.ifNoneMatch ? "`If-None-Match` → 304" : "full body → 200",
    `${round(r.latencyMs.p50)}`,
    `${round(r.latencyMs.p99)}`,
    `${Math.round(r.perSecond)}`,
    r.ifNoneMatch ? "0" : String(r.bodyBytes),
    String(r.errors),
  ]),
})

export const discoveryTargets = (runs: ReadonlyArray<DiscoveryRun>): ReadonlyArray<TargetCheck> => {
  const largest = Math.max(...runs.map((r) => r.servers))
  return runs
    .filter((r) => r.servers === largest)
    .map((r) => ({
      target: `discovery p99 ≤ 10 ms at ${largest === 50 ? "50" : `${largest} (not 50: a quick run)`} servers${r.ifNoneMatch ? ", If-None-Match" : ""}`,
      measured: `${round(r.latencyMs.p99)} ms`,
      met: r.latencyMs.p99 <= 10,
    }))
}
