import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import type { AgentEndpointResult } from "../agentEndpoint.ts"
import { callOverheadTargets, type CallOverheadResult, type CallPath, type CallRun } from "../callOverhead.ts"
import type { DiscoveryRun } from "../discovery.ts"
import type { ErasResult } from "../eras.ts"
import type { LoadResult } from "../lib/load.ts"
import { DOCS_END, DOCS_START, renderReport, renderTable, targetsOf, updateDocs, type BenchResults } from "../report.ts"

const results: BenchResults = {
  command: "pnpm bench",
  startedAt: "2026-01-01T00:00:00.000Z",
  finishedAt: "2026-01-01T00:10:00.000Z",
  quick: false,
  machine: { cpuModel: "cpu", cores: 2, memoryGiB: 24, kernel: "6", os: "Debian", node: "v24", docker: "20.10", cgroup: "v1" },
  load: { start: { at: "", one: 0.5, five: 0.4, fifteen: 0.3 }, end: null },
  coldStart: null,
  callOverhead: null,
  agentEndpoint: null,
  eras: null,
  discovery: null,
  discoveryPollers: 32,
  density: null,
  refresh: null,
  profile: null,
  failures: [],
}

describe("the bench report", () => {
  it("escapes pipes in cells", () => {
    expect(renderTable({ title: "t", header: ["a|b"], rows: [["x|y"]] })).toContain("| x\\|y |")
  })

  it("names the machine and its load at the start and the end", () => {
    const report = renderReport(results)
    expect(report).toContain("2 × cpu, 24 GiB")
    expect(report).toContain("0.5 / 0.4 / 0.3 at the start, unknown at the end")
  })

  it("replaces only what is between the markers of the docs, and adds them when missing", () => {
    const file = join(mkdtempSync(join(tmpdir(), "bench-docs-")), "performance.md")
    writeFileSync(file, "# Performance\n\nMethod.\n")
    updateDocs(file, "first")
    updateDocs(file, "second")
    writeFileSync(file, readFileSync(file, "utf8").replace("Method.", "Method, edited."))
    updateDocs(file, "third")
    expect(readFileSync(file, "utf8")).toBe(`# Performance\n\nMethod, edited.\n\n${DOCS_START}\nthird\n${DOCS_END}\n`)
  })
})

describe("the agent endpoint's part of the report", () => {
  const load = (clients: number, p50: number, p99: number): LoadResult => ({
    clients,
    latencyMs: { n: 100, p50, p99, min: p50, max: p99, mean: p50 },
    perSecond: 1000 / p50,
    errors: 0,
    firstError: null,
  })
  const turns = { rounds: 8, segmentMs: 1000, medianRoundDifferenceMs: 0.01 }
  const list = (clients: number, p99: number) => ({
    ...turns,
    servers: 10,
    toolsPerServer: 50,
    clients,
    bodyBytes: 179_175,
    a: load(clients, 1, 2),
    b: load(clients, 2, p99),
    probed: { a: 0.05, b: 0.1 },
  })
  const agentEndpoint: AgentEndpointResult = {
    tool: "echo",
    warmupMs: 2000,
    calls: [
      { ...turns, clients: 1, a: load(1, 2, 5), b: load(1, 2.05, 5) },
      { ...turns, clients: 8, a: load(8, 9, 30), b: load(8, 9.2, 30) },
    ],
    list: [list(1, 3), list(32, 40)],
  }

  it("holds /mcp to 0.1 ms p50 over the server's own endpoint at each client count, and tools/list to 5 ms p99 at the most clients", () => {
    const targets = targetsOf({ ...results, agentEndpoint }).map((t) => [t.target, t.met])
    expect(targets).toEqual([
      ["/mcp p50 within 0.1 ms of the server's own endpoint, 1 client", true],
      ["/mcp p50 within 0.1 ms of the server's own endpoint, 8 clients", false],
      ["/mcp tools/list p99 ≤ 5 ms at 10 servers × 50 tools, 32 clients", false],
    ])
  })

  it("renders both tables", () => {
    const report = renderReport({ ...results, agentEndpoint })
    expect(report).toContain("`tools/list` on `/mcp` at 10 servers × 50 tools (179175 bytes an answer)")
    expect(report).toContain("| 32 | `tools/list` | 8 × 1 s each | 2 | 40 | 500 | 1000 | 0 |")
    expect(report).toContain("| 32 | `ping` | 8 × 1 s each | 1 | 2 | 1000 | 500 | 0 |")
    expect(report).toMatch(/\| 8 \| 8 × 1 s each \| 9 \| 9.2 \| 0.2 \| .* \| – \/ – \| 0 \|/)
  })
})

describe("the two protocol eras' part of the report", () => {
  const load = (p50: number, n: number): LoadResult => ({
    clients: 1,
    latencyMs: { n, p50, p99: 2 * p50, min: p50, max: 2 * p50, mean: p50 },
    perSecond: 1000 / p50,
    errors: 0,
    firstError: null,
  })

  it("sets a 2025-era session's call beside a 2026-07-28 client's, with the DTMA's CPU per call of each", () => {
    const eras: ErasResult = {
      tool: "echo",
      runs: [{ clients: 8, rounds: 8, segmentMs: 1000, medianRoundDifferenceMs: 0.2, a: load(4, 1000), b: load(4.5, 500), probed: { a: 0.5, b: 0.4 } }],
    }
    const report = renderReport({ ...results, eras })
    expect(report).toContain("a 2025-era session against a 2026-07-28 client, in turns")
    expect(report).toMatch(/\| 8 \| 8 × 1 s each \| 4 \| 4.5 \| 0.5 \| 0.2 \| 8 \| 9 \| 250 \| 222 \| 500 \/ 800 \| 0 \|/)
  })
})

describe("the discovery figure", () => {
  const run = (servers: number, request: DiscoveryRun["request"], p99: number, server: DiscoveryRun["server"] = "dtma"): DiscoveryRun => ({
    servers,
    request,
    server,
    bodyBytes: request === "ifNoneMatch" ? 0 : 1000,
    cpuPerPollUs: 200,
    clients: 32,
    latencyMs: { n: 100, p50: 1, p99, min: 0.5, max: p99, mean: 1.2 },
    perSecond: 1000,
    errors: 0,
    firstError: null,
  })
  const discovery = [run(10, "full", 50), run(50, "full", 29), run(50, "gzip", 31), run(50, "ifNoneMatch", 11)]

  it("holds a 304 to 10 ms p99 and a full body, plain or gzipped, to 30 ms, at the largest fleet", () => {
    expect(targetsOf({ ...results, discovery }).map((t) => [t.target, t.met])).toEqual([
      ["discovery p99 ≤ 30 ms at 50 servers, full body → 200", true],
      ["discovery p99 ≤ 30 ms at 50 servers, full body, `Accept-Encoding: gzip` → 200", false],
      ["discovery p99 ≤ 10 ms at 50 servers, `If-None-Match` → 304", false],
    ])
  })

  it("shows each way of asking with the DTMA's CPU per poll", () => {
    expect(renderReport({ ...results, discovery })).toContain("| 50 | DTMA | full body, `Accept-Encoding: gzip` → 200 | 1 | 31 | 1000 | 1000 | 200 | 0 |")
  })

  it("says the floor server's p99 beside each target it was measured for, and holds only the DTMA to them", () => {
    const withFloor = [...discovery, run(50, "gzip", 12, "floor"), run(50, "ifNoneMatch", 13, "floor")]
    expect(targetsOf({ ...results, discovery: withFloor }).map((t) => [t.measured, t.met])).toEqual([
      ["29 ms", true],
      ["31 ms (the floor server 12 ms)", false],
      ["11 ms (the floor server 13 ms)", false],
    ])
    expect(renderReport({ ...results, discovery: withFloor })).toContain("| 50 | floor | `If-None-Match` → 304 | 1 | 13 | 1000 | 0 | 200 | 0 |")
  })
})

describe("the call overhead's targets", () => {
  const run = (path: CallPath, clients: number, p50: number, perSecond: number, proxyCpuUsPerCall?: number): CallRun => ({
    path,
    clients,
    latencyMs: { n: perSecond * 8, p50, p99: p50 * 3, min: p50, max: p50 * 4, mean: p50 },
    perSecond,
    errors: 0,
    firstError: null,
    ...(proxyCpuUsPerCall === undefined ? {} : { proxyCpuUsPerCall }),
  })
  const overhead: CallOverheadResult = {
    tool: "echo",
    warmupMs: 2000,
    durationMs: 8000,
    runs: [
      run("direct", 1, 0.6, 1500),
      run("floor", 1, 2.1, 450, 400),
      run("dtma", 1, 2.0, 420, 1000),
      run("supergateway", 1, 4.5, 190),
      run("direct", 8, 1.5, 4000),
      run("floor", 8, 6, 1200, 220),
      run("dtma", 8, 7, 1000, 140),
      run("supergateway", 8, 13, 530),
    ],
    authorization: [],
  }
  const targets = callOverheadTargets(overhead)
  const find = (text: string) => targets.find((t) => t.target.startsWith(text))

  it("hold the DTMA to issue 16's one-client overhead, and say the floor proxy's beside it", () => {
    expect(find("proxy p50 overhead ≤ 0.4 ms over direct, 1 client")).toEqual({
      target: "proxy p50 overhead ≤ 0.4 ms over direct, 1 client",
      measured: "1.4 ms (the floor proxy 1.5 ms)",
      met: false,
    })
  })

  it("hold its CPU per call to a quarter of the base's and its calls/s to a share of direct's, with the floor's", () => {
    expect(find("DTMA CPU per call")).toEqual({
      target: "DTMA CPU per call ≤ 151 µs (a quarter of 57fa4df's), 8 clients",
      measured: "140 µs (the floor proxy 220 µs)",
      met: true,
    })
    expect(find("calls/s through the DTMA")).toEqual({
      target: "calls/s through the DTMA ≥ 32% of direct, 8 clients",
      measured: "25% (1000 vs 4000/s; the floor proxy 30%)",
      met: false,
    })
    expect(targets.filter((t) => t.target.includes("CPU per call") && t.target.includes("1 client"))).toEqual([])
  })
})
