import { execFile, execFileSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./dtmaProcess.ts"

/** The project's own server for every server scenario of the suite (images/mcp-conformance). */
export const CONFORMANCE_IMAGE = "dtma/mcp-conformance:1"
const CONFORMANCE_BIN = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "conformance")

/** A server container in its own Streamable HTTP mode, published on a loopback port. */
export interface DirectServer {
  readonly url: string
  stop(): void
}

/** The fixture over Streamable HTTP (`http`, port 3001 inside), published on a free loopback port. */
export const startFixtureHttp = async (label: string): Promise<DirectServer> => {
  const port = await freePort()
  const id = execFileSync(
    "docker",
    ["run", "-d", "--init", "--rm", "--label", `dtma.test=${label}`, "-p", `127.0.0.1:${port}:3001`, CONFORMANCE_IMAGE, "http"],
    { encoding: "utf8" },
  ).trim()
  const url = `http://127.0.0.1:${port}/mcp`
  for (let i = 0; ; i++) {
    // Any HTTP answer means it listens (a bare GET without a session is refused with 4xx).
    if (
      await fetch(url).then(
        () => true,
        () => false,
      )
    )
      break
    if (i > 100) throw new Error(`${CONFORMANCE_IMAGE} did not listen on ${url}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { url, stop: () => void execFileSync("docker", ["rm", "-f", id]) }
}

const run = (args: ReadonlyArray<string>): Promise<{ readonly output: string; readonly failure: string }> =>
  new Promise((resolve) => {
    execFile(CONFORMANCE_BIN, args, { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ output: `${stdout}${stderr}`, failure: error === null ? "" : String(error) }),
    )
  })

/** The server scenarios `conformance list` names, in its order. */
export const listedScenarios = async (): Promise<ReadonlyArray<string>> => {
  const { output, failure } = await run(["list"])
  const section = output.split(/^Client scenarios/mu)[0]?.split(/^Server scenarios.*$/mu)[1] ?? ""
  const scenarios = [...section.matchAll(/^\s+- ([\w/-]+)/gmu)].map((m) => m[1]!)
  if (scenarios.length === 0) throw new Error(`no server scenarios (${failure || "none listed"}) in:\n${output}`)
  return scenarios
}

export interface ConformanceRun {
  readonly passed: ReadonlyArray<string>
  readonly failed: ReadonlyArray<string>
  readonly output: string
}

const SUMMARY_LINE = /^([✓✗]) ([\w/-]+): (\d+) passed, (\d+) failed/u

/**
 * Runs every server scenario of the suite against `url`: `--suite all`, since the default (active)
 * suite leaves out the pending ones `conformance list` still names (json-schema-2020-12, server-sse-polling).
 */
export const runConformance = async (url: string): Promise<ConformanceRun> => {
  const outputDir = mkdtempSync(join(tmpdir(), "dtma-conformance-"))
  // The CLI exits non-zero when a scenario fails, so its error is kept only to explain an output with no summary.
  const { output, failure } = await run(["server", "--url", url, "--suite", "all", "-o", outputDir])
  const passed: Array<string> = []
  const failed: Array<string> = []
  for (const line of output.split("\n")) {
    const match = SUMMARY_LINE.exec(line.trim())
    if (match === null) continue
    ;(match[1] === "✓" ? passed : failed).push(match[2]!)
  }
  if (passed.length + failed.length === 0) throw new Error(`no conformance summary (${failure || "the CLI failed silently"}) in:\n${output}`)
  return { passed, failed, output }
}

/** One way of reaching the server, and what the suite made of it. */
export interface ConformanceColumn {
  readonly label: string
  readonly run: ConformanceRun
}

/** The listed scenarios down, one column per way of reaching the server (✓ passed, ✗ failed, - not run), and each column's differences from the first. */
export const describeColumns = (scenarios: ReadonlyArray<string>, columns: ReadonlyArray<ConformanceColumn>): string => {
  const width = Math.max(...scenarios.map((s) => s.length), "scenario".length)
  const cell = (column: ConformanceColumn, scenario: string) =>
    (column.run.passed.includes(scenario) ? "✓" : column.run.failed.includes(scenario) ? "✗" : "-").padEnd(column.label.length)
  const [first] = columns
  const lines = [
    ["scenario".padEnd(width), ...columns.map((c) => c.label)].join("  "),
    ...scenarios.map((s) => [s.padEnd(width), ...columns.map((c) => cell(c, s))].join("  ")),
    ["passed".padEnd(width), ...columns.map((c) => `${c.run.passed.length}/${scenarios.length}`.padEnd(c.label.length))].join("  "),
  ]
  if (first !== undefined)
    for (const column of columns.slice(1)) {
      const missing = first.run.passed.filter((s) => !column.run.passed.includes(s))
      const extra = column.run.passed.filter((s) => !first.run.passed.includes(s))
      const same = missing.length + extra.length === 0
      lines.push(
        `${column.label}: ${same ? `the same as ${first.label}` : `misses ${missing.join(", ") || "none"}; passes beyond it ${extra.join(", ") || "none"}`}`,
      )
    }
  return lines.join("\n")
}
