import { once } from "node:events"
import type { AddressInfo } from "node:net"
import { Redacted } from "effect"
import { fakesModule, InMemoryContainerRuntime, RecordingControlPlane } from "@dtma/testing"
import type { Config } from "../src/config.ts"
import { buildContainer } from "../src/container.ts"
import { createApp } from "../src/createApp.ts"
import { createLogger, type Logger } from "../src/logger.ts"

export const IMAGE = "dtma/example-http:1"
export const TOKEN = "inbound-token-for-tests"
export const OTHER_TOKEN = "second-inbound-token"
export const OUTBOUND_TOKEN = "outbound-token-never-shown"
export const NOW = new Date("2025-06-20T00:00:00.000Z")

export const testConfig = (overrides: Partial<Config> = {}): Config => ({
  port: 30000,
  host: "127.0.0.1",
  stateDir: "/nonexistent/dtma",
  logLevel: "info",
  apiBaseUrl: "https://backend.invalid/functions/v1",
  inboundTokens: [Redacted.make(TOKEN), Redacted.make(OTHER_TOKEN)],
  outboundToken: Redacted.make(OUTBOUND_TOKEN),
  has: { apiKey: true, bearerToken: true, fileToken: false },
  generatedTokenFile: null,
  warnings: [],
  ...overrides,
})

/** A logger whose JSON lines land in `lines`. */
export const capturingLogger = (): { readonly logger: Logger; readonly lines: Array<string> } => {
  const lines: Array<string> = []
  return { logger: createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(line) } }), lines }
}

export interface TestApp {
  readonly base: string
  readonly runtime: InMemoryContainerRuntime
  readonly controlPlane: RecordingControlPlane
  readonly logs: Array<string>
  /** fetch with the bearer token unless `headers.authorization` says otherwise. */
  api(path: string, init?: RequestInit): Promise<Response>
  /** A JSON request with the bearer token. */
  json(method: string, path: string, body?: unknown): Promise<Response>
  close(): Promise<void>
}

/** The app over the fakes, listening on 127.0.0.1 on a free port. */
export const startTestApp = async (options: { readonly config?: Partial<Config>; readonly runtime?: InMemoryContainerRuntime } = {}): Promise<TestApp> => {
  const runtime = options.runtime ?? new InMemoryContainerRuntime({ images: [IMAGE], registry: ["dtma/pullable:1"], now: () => NOW.getTime() })
  const controlPlane = new RecordingControlPlane()
  const { logger, lines } = capturingLogger()
  const container = buildContainer({ config: testConfig(options.config), logger, infrastructure: fakesModule({ runtime, controlPlane }) })
  const server = createApp(container, { now: () => NOW }).listen(0, "127.0.0.1")
  await once(server, "listening")
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers as Record<string, string> | undefined) } })
  return {
    base,
    runtime,
    controlPlane,
    logs: lines,
    api,
    json: (method, path, body) =>
      api(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }) }),
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, "close")
    },
  }
}

export const deployBody = (overrides: Record<string, unknown> = {}) => ({
  dockerImageUrl: IMAGE,
  instanceNameOnToolbox: "tool-a",
  accountToolInstanceId: "ati-1",
  ...overrides,
})

interface ToolEntry {
  readonly instance_name_on_toolbox: string
  readonly container_id: string
  readonly id: string
  readonly ports: ReadonlyArray<unknown>
}

/** The parts of a status body the tests read by hand. */
export const statusJson = async (res: Response) =>
  (await res.json()) as { readonly tool_instances: Array<ToolEntry>; readonly standard_tools: Array<ToolEntry>; readonly mcp_servers: Array<ToolEntry> }
