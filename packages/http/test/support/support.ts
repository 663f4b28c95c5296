import { once } from "node:events"
import type { AddressInfo } from "node:net"
import type { Tracer } from "@opentelemetry/api"
import { Effect, Redacted } from "effect"
import type { AgentAccess, AuditRecord, CreateOptions, InstanceSpec, McpServers } from "@dtma/domain"
import {
  echoMcpServer,
  fakeAgentAccess,
  fakesModule,
  InMemoryAuditLog,
  InMemoryContainerEvents,
  InMemoryContainerLogs,
  InMemoryContainerRuntime,
  InMemoryCredentialDelivery,
  InMemoryCredentialSource,
  InMemoryMcpConnector,
  RecordingControlPlane,
  type FakeAgentAccess,
  type InMemoryContainerRuntimeOptions,
  type McpServerFactory,
} from "@dtma/testing"
import type { Config } from "../../src/composition/config.ts"
import { buildContainer, stopUseCases } from "../../src/composition/container.ts"
import { createApp } from "../../src/server/createApp.ts"
import { createLogger, type Logger } from "../../src/composition/logger.ts"
import { answerClientErrors } from "../../src/server/answerClientErrors.ts"
import type { ProxyTimers } from "../../src/mcpProxy/timers.ts"
import { DEFAULT_MCP_CONFIG } from "../../src/composition/mcpConfig.ts"
import { DEFAULT_AUDIT_CONFIG } from "../../src/composition/auditConfig.ts"
import { bound, Tokens } from "../../src/composition/tokens.ts"

export const IMAGE = "dtma/example-http:1"
/** An image whose containers serve the fake echo MCP server. */
export const MCP_IMAGE = "dtma/mcp-echo:1"
/** An image whose containers never serve MCP: they write to stderr and exit. */
export const BROKEN_MCP_IMAGE = "dtma/mcp-broken:1"
export const BROKEN_STDERR = "Error: unknown transport 'bogus'\nusage: server [stdio|sse|streamableHttp]"
export const TOKEN = "inbound-token-for-tests"
export const OTHER_TOKEN = "second-inbound-token"
export const OUTBOUND_TOKEN = "outbound-token-never-shown"
export const NOW = new Date("2025-06-20T00:00:00.000Z")

/** Agents as a DTMA at http://127.0.0.1:30000 with no external issuer sees them. */
export const TEST_ACCESS: Config["access"] = {
  resourceUrl: "http://127.0.0.1:30000",
  publicHost: null,
  issuers: [],
  maxTokenTtlSeconds: 86_400,
  allowedOrigins: [],
  ratePerSecond: 1_000,
  burst: 1_000,
}

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
  scope: "true",
  credentials: { root: "/nonexistent/dtma-credentials", allowDisk: false, oauthPath: "get-mcp-oauth-credentials" },
  mcp: DEFAULT_MCP_CONFIG,
  access: TEST_ACCESS,
  audit: DEFAULT_AUDIT_CONFIG,
  ...overrides,
})

/** The audit's records once there are `n` (a record is written when its answer has gone out, just after the client has it). */
export const auditRecords = async (log: InMemoryAuditLog, n: number): Promise<ReadonlyArray<AuditRecord>> => {
  const until = Date.now() + 3_000
  while (log.records.length < n && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 5))
  return log.records
}

/** A logger whose JSON lines land in `lines`. */
export const capturingLogger = (): { readonly logger: Logger; readonly lines: Array<string> } => {
  const lines: Array<string> = []
  return { logger: createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(line) } }), lines }
}

/**
 * Joins the fakes the way a real engine and real images are joined: a container of an MCP image
 * serves MCP (in the connector fake) once created, and every container has a log (in the logs fake).
 */
export class McpServingRuntime extends InMemoryContainerRuntime {
  readonly connector = new InMemoryMcpConnector()
  readonly logs = new InMemoryContainerLogs()
  readonly servers = new Map<string, McpServerFactory>([[MCP_IMAGE, echoMcpServer]])
  readonly stderr = new Map<string, string>([[BROKEN_MCP_IMAGE, BROKEN_STDERR]])

  constructor(options: InMemoryContainerRuntimeOptions = {}) {
    super(options)
  }

  override create(spec: InstanceSpec, options?: CreateOptions) {
    return super.create(spec, options).pipe(
      Effect.tap((c) =>
        Effect.sync(() => {
          this.logs.addContainer(c.containerId)
          const factory = this.servers.get(spec.image)
          if (factory !== undefined) this.connector.register(c.containerId, factory)
          const stderr = this.stderr.get(spec.image)
          if (stderr !== undefined) this.logs.append(c.containerId, "stderr", stderr)
        }),
      ),
    )
  }
}

export interface TestApp {
  readonly base: string
  readonly runtime: InMemoryContainerRuntime
  readonly connector: InMemoryMcpConnector
  readonly containerLogs: InMemoryContainerLogs
  readonly events: InMemoryContainerEvents
  readonly mcpServers: McpServers
  readonly controlPlane: RecordingControlPlane
  /** The backend's OAuth connections: `github-1` (github) and `slack-1` (slack) are connected. */
  readonly credentialSource: InMemoryCredentialSource
  readonly credentialDelivery: InMemoryCredentialDelivery
  /** Agent access over fakes: `agentAccess.tokens.mint(…)` makes an agent token the app accepts. */
  readonly agentAccess: FakeAgentAccess
  /** Every audit record the app wrote. */
  readonly auditLog: InMemoryAuditLog
  readonly logs: Array<string>
  /** fetch with the bearer token unless `headers.authorization` says otherwise. */
  api(path: string, init?: RequestInit): Promise<Response>
  /** A JSON request with the bearer token. */
  json(method: string, path: string, body?: unknown): Promise<Response>
  close(): Promise<void>
}

export interface TestAppOptions {
  readonly config?: Partial<Config>
  readonly runtime?: InMemoryContainerRuntime
  /**
   * Agent access to bind instead of the fakes' (the real one over a temporary state directory, say);
   * `app.agentAccess` then holds fakes the app does not use.
   */
  readonly access?: AgentAccess
  /** The tracer the app records spans with (the global one, a no-op, by default). */
  readonly tracer?: Tracer
  readonly auditLog?: InMemoryAuditLog
  /** The MCP proxy's clock for token expiry (default real time). */
  readonly proxyTimers?: ProxyTimers
}

/** The app over the fakes, listening on 127.0.0.1 on a free port. */
export const startTestApp = async (options: TestAppOptions = {}): Promise<TestApp> => {
  const runtime =
    options.runtime ?? new McpServingRuntime({ images: [IMAGE, MCP_IMAGE, BROKEN_MCP_IMAGE], registry: ["dtma/pullable:1"], now: () => NOW.getTime() })
  const controlPlane = new RecordingControlPlane()
  const events = new InMemoryContainerEvents()
  const { logger, lines } = capturingLogger()
  const connector = runtime instanceof McpServingRuntime ? runtime.connector : new InMemoryMcpConnector()
  const containerLogs = runtime instanceof McpServingRuntime ? runtime.logs : new InMemoryContainerLogs()
  const credentialSource = new InMemoryCredentialSource()
  credentialSource.connect("github-1", { provider: "github", scopes: ["repo"] })
  credentialSource.connect("slack-1", { provider: "slack", scopes: ["chat:write"] })
  const credentialDelivery = new InMemoryCredentialDelivery()
  const agentAccess = fakeAgentAccess()
  const agentAccessBound = options.access === undefined ? agentAccess : { ...agentAccess, access: options.access }
  const auditLog = options.auditLog ?? new InMemoryAuditLog()
  const infrastructure = fakesModule({
    runtime,
    controlPlane,
    connector,
    logs: containerLogs,
    events,
    credentialSource,
    credentialDelivery,
    agentAccess: agentAccessBound,
    auditLog,
  })
  const container = buildContainer({ config: testConfig(options.config), logger, infrastructure })
  const mcpServers = bound(container, Tokens.McpServers)
  const server = createApp(container, {
    now: () => NOW,
    ...(options.tracer === undefined ? {} : { tracer: options.tracer }),
    ...(options.proxyTimers === undefined ? {} : { proxyTimers: options.proxyTimers }),
  }).listen(0, "127.0.0.1")
  answerClientErrors(server)
  await once(server, "listening")
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers as Record<string, string> | undefined) } })
  return {
    base,
    runtime,
    connector,
    containerLogs,
    events,
    mcpServers,
    controlPlane,
    credentialSource,
    credentialDelivery,
    agentAccess,
    auditLog,
    logs: lines,
    api,
    json: (method, path, body) =>
      api(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }) }),
    close: async () => {
      await stopUseCases(container)
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

/** A `POST /mcp-servers` body for a stdio server of `MCP_IMAGE`. */
export const mcpBody = (overrides: Record<string, unknown> = {}) => ({
  dockerImageUrl: MCP_IMAGE,
  instanceNameOnToolbox: "mcp-a",
  accountToolInstanceId: "ati-mcp-a",
  mcpTransportType: "stdio",
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
