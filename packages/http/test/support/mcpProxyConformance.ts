import { execFile, execFileSync } from "node:child_process"
import { once } from "node:events"
import { mkdtempSync } from "node:fs"
import { createServer, request, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./dtmaProcess.ts"

export const EVERYTHING_IMAGE = "dtma/mcp-everything:2026.8.31"
const CONFORMANCE_BIN = join(import.meta.dirname, "..", "..", "node_modules", ".bin", "conformance")

/** server-everything in its own Streamable HTTP mode, published on a loopback port. */
export interface DirectServer {
  readonly url: string
  stop(): void
}

export const startEverythingHttp = async (label: string): Promise<DirectServer> => {
  const port = await freePort()
  const id = execFileSync(
    "docker",
    ["run", "-d", "--init", "--rm", "--label", `dtma.test=${label}`, "-e", "PORT=3001", "-p", `127.0.0.1:${port}:3001`, EVERYTHING_IMAGE, "streamableHttp"],
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
    if (i > 100) throw new Error(`server-everything did not listen on ${url}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { url, stop: () => void execFileSync("docker", ["rm", "-f", id]) }
}

/**
 * A loopback pass-through that adds `Authorization: Bearer <token>` to every request and streams
 * both ways: the conformance CLI has no option to send headers.
 */
export const bearerPassThrough = async (target: string, token: string): Promise<{ readonly url: string; close(): Promise<void> }> => {
  const to = new URL(target)
  const server: Server = createServer((req, res) => {
    const upstream = request(
      { host: to.hostname, port: to.port, path: to.pathname + to.search, method: req.method, headers: { ...req.headers, authorization: `Bearer ${token}` } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    upstream.on("error", () => res.destroy())
    res.on("close", () => upstream.destroy())
    req.pipe(upstream)
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, "close")
    },
  }
}

export interface ConformanceRun {
  readonly passed: ReadonlyArray<string>
  readonly failed: ReadonlyArray<string>
  readonly output: string
}

const SUMMARY_LINE = /^([✓✗]) ([\w/-]+): (\d+) passed, (\d+) failed/u

/** Runs the official server conformance suite (active scenarios) against `url`. */
export const runConformance = async (url: string): Promise<ConformanceRun> => {
  const outputDir = mkdtempSync(join(tmpdir(), "dtma-conformance-"))
  const output = await new Promise<string>((resolve) => {
    execFile(CONFORMANCE_BIN, ["server", "--url", url, "-o", outputDir], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 }, (_error, stdout, stderr) =>
      resolve(`${stdout}${stderr}`),
    )
  })
  const passed: Array<string> = []
  const failed: Array<string> = []
  for (const line of output.split("\n")) {
    const match = SUMMARY_LINE.exec(line.trim())
    if (match === null) continue
    ;(match[1] === "✓" ? passed : failed).push(match[2]!)
  }
  if (passed.length + failed.length === 0) throw new Error(`no conformance summary in:\n${output}`)
  return { passed, failed, output }
}

/** Both lists, side by side, as the test and `scripts/conformance.sh` print them. */
export const describeRuns = (direct: ConformanceRun, viaDtma: ConformanceRun): string =>
  [
    `passed directly (${direct.passed.length}/${direct.passed.length + direct.failed.length}): ${direct.passed.join(", ")}`,
    `passed through the DTMA (${viaDtma.passed.length}/${viaDtma.passed.length + viaDtma.failed.length}): ${viaDtma.passed.join(", ")}`,
    `passed directly but not through the DTMA: ${direct.passed.filter((s) => !viaDtma.passed.includes(s)).join(", ") || "none"}`,
    `passed through the DTMA but not directly: ${viaDtma.passed.filter((s) => !direct.passed.includes(s)).join(", ") || "none"}`,
  ].join("\n")
