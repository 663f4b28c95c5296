import { writeFileSync } from "node:fs"
import { Agent, request } from "node:http"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import type { BenchContext, Table, TargetCheck } from "./context.ts"
import { startChildServer } from "./lib/childServer.ts"
import { closedLoop, type LoadResult, type Operation } from "./lib/load.ts"
import { cpuProbe } from "./lib/proc.ts"
import { round } from "./lib/stats.ts"

/** How a poller asks: for the full body plain, for it gzipped (as `fetch`, the backend's client, does), or only if it changed. */
export type DiscoveryRequest = "full" | "gzip" | "ifNoneMatch"

/** Each kind of poll: its headers besides the token, the status and content coding that answer it, its label. */
export const DISCOVERY_REQUESTS: Record<DiscoveryRequest, { readonly label: string; readonly status: number; readonly encoding: string }> = {
  full: { label: "full body → 200", status: 200, encoding: "" },
  gzip: { label: "full body, `Accept-Encoding: gzip` → 200", status: 200, encoding: "gzip" },
  ifNoneMatch: { label: "`If-None-Match` → 304", status: 304, encoding: "" },
}

/** The headers of a poll of `kind`, given the token's and the current tag. */
export const discoveryHeaders = (kind: DiscoveryRequest, auth: Record<string, string>, etag: string): Record<string, string> =>
  kind === "gzip" ? { ...auth, "accept-encoding": "gzip" } : kind === "ifNoneMatch" ? { ...auth, "if-none-match": etag } : auth

/** `GET /mcp-servers/discovery` with `servers` deployed, asked one way, of the DTMA or of the floor server answering its bytes. */
export interface DiscoveryRun extends LoadResult {
  readonly servers: number
  readonly request: DiscoveryRequest
  /** Who answered: the DTMA, or bench/lib/floorServer.ts with the DTMA's body (nothing else: what limits the figure). */
  readonly server: "dtma" | "floor"
  /** Size of a body as sent (gzipped for `gzip`; 0 for a 304), bytes. */
  readonly bodyBytes: number
  /** The answering process's CPU time (utime + stime from /proc) per poll over the measured window, µs. */
  readonly cpuPerPollUs: number | null
}

/** One GET on `agent`: its status, ETag, content coding and body size as sent. */
export const get = (
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
): Promise<{ status: number; etag: string; encoding: string; bytes: number; body: Buffer }> =>
  new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("end", () => {
        const body = Buffer.concat(chunks)
        resolve({
          status: res.statusCode ?? 0,
          etag: String(res.headers.etag ?? ""),
          encoding: String(res.headers["content-encoding"] ?? ""),
          bytes: body.length,
          body,
        })
      })
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end()
  })

/**
 * `pollers` closed-loop pollers on keep-alive connections (node:http, lighter than fetch: the
 * pollers share the DTMA's two cores), each way of asking in turn; a status or content coding other
 * than the expected one is an error. The first answer of each way is read in full: the gzipped body
 * must be the plain one's JSON, and list every server. At the plan's largest fleet the floor server
 * (bench/lib/floorServer.ts) is then polled the same ways, answering the DTMA's body.
 */
export const measureDiscovery = async (ctx: BenchContext, servers: number): Promise<ReadonlyArray<DiscoveryRun>> => {
  const url = new URL(`${ctx.dtma.url}/mcp-servers/discovery`)
  const auth = { authorization: `Bearer ${ctx.dtma.token}` }
  const runs = await pollThreeWays(ctx, { url, auth, pid: ctx.dtma.pid, servers, server: "dtma" })
  if (servers !== Math.max(...ctx.plan.discoveryServers)) return runs
  const bodyFile = join(ctx.runDir, "discovery-body.json")
  const agent = new Agent({ keepAlive: true })
  writeFileSync(bodyFile, (await get(agent, url, auth)).body)
  agent.destroy()
  const floor = await startChildServer(join(import.meta.dirname, "lib", "floorServer.ts"), ["0", "1", bodyFile])
  try {
    const floorUrl = new URL(`http://127.0.0.1:${floor.port}/mcp-servers/discovery`)
    return [...runs, ...(await pollThreeWays(ctx, { url: floorUrl, auth, pid: floor.pid, servers, server: "floor" }))]
  } finally {
    floor.stop()
  }
}

const pollThreeWays = async (
  ctx: BenchContext,
  target: { readonly url: URL; readonly auth: Record<string, string>; readonly pid: number; readonly servers: number; readonly server: "dtma" | "floor" },
): Promise<Array<DiscoveryRun>> => {
  const { url, auth, servers, server } = target
  const agent = new Agent({ keepAlive: true, maxSockets: ctx.plan.discoveryPollers })
  const first = await get(agent, url, auth)
  if (first.status !== 200) throw new Error(`discovery answered ${first.status}`)
  const zipped = await get(agent, url, discoveryHeaders("gzip", auth, first.etag))
  for (const [way, body] of [
    ["plain", first.body],
    ["gzipped", zipped.encoding === "gzip" ? gunzipSync(zipped.body) : Buffer.alloc(0)],
  ] as const) {
    const count = ((JSON.parse(body.toString("utf8") || "{}") as { data?: { servers?: Array<unknown> } }).data?.servers ?? []).length
    if (count !== servers) throw new Error(`discovery (${way}) lists ${count} servers, ${servers} expected`)
  }
  const runs: Array<DiscoveryRun> = []
  try {
    for (const kind of ["full", "gzip", "ifNoneMatch"] as const) {
      const headers = discoveryHeaders(kind, auth, first.etag)
      const expected = DISCOVERY_REQUESTS[kind]
      const poll: Operation = async () => {
        const { status, encoding } = await get(agent, url, headers)
        if (status !== expected.status || encoding !== expected.encoding) {
          throw new Error(`discovery answered ${status} ${encoding || "plain"}, ${expected.status} ${expected.encoding || "plain"} expected`)
        }
      }
      const probe = cpuProbe(target.pid)
      const result = await closedLoop(
        Array.from({ length: ctx.plan.discoveryPollers }, () => poll),
        { warmupMs: ctx.plan.discoveryWarmupMs, durationMs: ctx.plan.discoveryDurationMs, probe },
      )
      const cpuPerPollUs = result.probed === undefined || result.latencyMs.n === 0 ? null : Math.round((result.probed * 1e6) / result.latencyMs.n)
      const bodyBytes = kind === "full" ? first.bytes : kind === "gzip" ? zipped.bytes : 0
      runs.push({ servers, request: kind, server, bodyBytes, cpuPerPollUs, ...result })
      ctx.log(
        `discovery: ${servers} servers, ${server}, ${expected.label}: ` +
          `p50 ${round(result.latencyMs.p50)} ms, p99 ${round(result.latencyMs.p99)} ms, ${Math.round(result.perSecond)}/s, its CPU ${cpuPerPollUs} µs a poll`,
      )
    }
  } finally {
    agent.destroy()
  }
  return runs
}

export const discoveryTable = (runs: ReadonlyArray<DiscoveryRun>, pollers: number): Table => ({
  title: `Discovery: \`GET /mcp-servers/discovery\` under ${pollers} concurrent pollers`,
  header: ["servers", "server", "request", "p50 ms", "p99 ms", "requests/s", "body bytes", "CPU per poll µs", "errors"],
  rows: runs.map((r) => [
    String(r.servers),
    r.server === "floor" ? "floor" : "DTMA",
    DISCOVERY_REQUESTS[r.request].label,
    `${round(r.latencyMs.p50)}`,
    `${round(r.latencyMs.p99)}`,
    `${Math.round(r.perSecond)}`,
    String(r.bodyBytes),
    r.cpuPerPollUs === null ? "–" : String(r.cpuPerPollUs),
    String(r.errors),
  ]),
  notes: [
    "floor: bench/lib/floorServer.ts, a bare node:http server in its own process answering the DTMA's discovery bytes " +
      "(a 304 to its tag, the body gzipped once for a caller that accepts gzip) and nothing else, under the same pollers: " +
      "the floor of any server on this machine under these pollers.",
  ],
})

/**
 * Issue 16's targets at the largest fleet: p99 ≤ 10 ms for a 304, ≤ 30 ms for a full body (either
 * way); the floor server's p99 the same way beside it, when measured.
 */
export const discoveryTargets = (runs: ReadonlyArray<DiscoveryRun>): ReadonlyArray<TargetCheck> => {
  const largest = Math.max(...runs.map((r) => r.servers))
  const floorOf = (r: DiscoveryRun) => runs.find((x) => x.server === "floor" && x.servers === r.servers && x.request === r.request)
  return runs
    .filter((r) => r.servers === largest && r.server !== "floor")
    .map((r) => {
      const limit = r.request === "ifNoneMatch" ? 10 : 30
      const floor = floorOf(r)
      return {
        target: `discovery p99 ≤ ${limit} ms at ${largest === 50 ? "50" : `${largest} (not 50: a quick run)`} servers, ${DISCOVERY_REQUESTS[r.request].label}`,
        measured: `${round(r.latencyMs.p99)} ms${floor === undefined ? "" : ` (the floor server ${round(floor.latencyMs.p99)} ms)`}`,
        met: r.latencyMs.p99 <= limit,
      }
    })
}
