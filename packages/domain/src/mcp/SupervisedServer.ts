import * as Result from "effect/Result"
import type { ManagedContainer, McpTransport, OAuthBinding } from "../ManagedInstance.ts"
import type { CapabilitySnapshot } from "./discovery.ts"
import { healthTransition, type HealthEvent, type HealthStatus } from "./health.ts"
import type { UpstreamSession } from "./UpstreamSession.ts"

export interface HealthRecord {
  readonly at: string
  readonly status: HealthStatus
  readonly detail: string | null
}

const HISTORY = 20

/** What the DTMA tracks about one MCP server; mutated only by the McpServers use case. */
export interface SupervisedServer {
  readonly name: string
  container: ManagedContainer
  health: HealthStatus
  history: Array<HealthRecord>
  session: UpstreamSession | null
  snapshot: CapabilitySnapshot | null
  restartCount: number
  /** Unix ms of crashes, for the restart policy. */
  crashes: Array<number>
  lastError: string | null
  lastHealthCheck: string | null
  pingLatencyMs: number | null
  consecutiveOk: number
  consecutiveFailed: number
  /** Reconnections that failed since the server was last ready; paces the next attempt. */
  reconnectFailures: number
  /** Set while the operator wants it down: crashes then are not restarted. */
  stopRequested: boolean
  /** A crash was seen and its restart is scheduled. */
  restartPending: boolean
  /** The restart policy gave up; only an operator's start closes the circuit again. */
  circuitOpen: boolean
  /** Bumped by every (re)connection, so late work for an old one is dropped. */
  generation: number
}

export const supervise = (container: ManagedContainer, health: HealthStatus): SupervisedServer => ({
  name: container.name,
  container,
  health,
  history: [],
  session: null,
  snapshot: null,
  restartCount: 0,
  crashes: [],
  lastError: null,
  lastHealthCheck: null,
  pingLatencyMs: null,
  consecutiveOk: 0,
  consecutiveFailed: 0,
  reconnectFailures: 0,
  stopRequested: false,
  restartPending: false,
  circuitOpen: false,
  generation: 0,
})

/** Applies a health event if it is legal now, recording the change; an illegal one is ignored. */
export const applyHealth = (server: SupervisedServer, event: HealthEvent, at: string, detail: string | null = null): boolean => {
  const next = healthTransition(server.health, event)
  if (Result.isFailure(next)) return false
  if (next.success !== server.health || detail !== null) {
    server.history = [...server.history, { at, status: next.success, detail }].slice(-HISTORY)
  }
  server.health = next.success
  return true
}

/** An MCP server as the API shows it. Never holds a secret. */
export interface McpServerView {
  readonly instanceName: string
  readonly accountToolInstanceId: string | null
  readonly containerId: string
  readonly image: string
  readonly transportType: McpTransport
  readonly endpointPath: string | null
  readonly port: number | null
  readonly containerState: ManagedContainer["state"]
  readonly healthStatus: HealthStatus
  readonly lastHealthCheck: string | null
  readonly pingLatencyMs: number | null
  readonly restartCount: number
  readonly lastError: string | null
  readonly healthHistory: ReadonlyArray<HealthRecord>
  readonly capabilities: CapabilitySnapshot | null
  /** Which OAuth connections it has and how they are delivered (states come from the credentials use case). */
  readonly oauth: OAuthBinding | null
}

export const viewOf = (s: SupervisedServer): McpServerView => ({
  instanceName: s.name,
  accountToolInstanceId: s.container.accountToolInstanceId,
  containerId: s.container.containerId,
  image: s.container.image,
  transportType: s.container.mcp?.transport ?? "stdio",
  endpointPath: s.container.mcp?.endpointPath ?? null,
  port: s.container.mcp?.port ?? null,
  containerState: s.container.state,
  healthStatus: s.health,
  lastHealthCheck: s.lastHealthCheck,
  pingLatencyMs: s.pingLatencyMs,
  restartCount: s.restartCount,
  lastError: s.lastError,
  healthHistory: s.history,
  capabilities: s.snapshot,
  oauth: s.container.oauth ?? null,
})

const DEFAULT_PATHS: Readonly<Record<McpTransport, string>> = { sse: "/sse", websocket: "/", streamable_http: "/mcp", stdio: "" }

/** Where the DTMA reaches a running server: a loopback URL for network transports. */
export const targetUrlOf = (c: ManagedContainer): string | null => {
  const mcp = c.mcp
  if (mcp === null || mcp.transport === "stdio") return null
  const containerPort = mcp.port ?? 8080
  const hostPort = c.ports.find((p) => p.containerPort === containerPort)?.hostPort
  if (hostPort == null) return null
  const scheme = mcp.transport === "websocket" ? "ws" : "http"
  const path = mcp.endpointPath ?? DEFAULT_PATHS[mcp.transport]
  return `${scheme}://127.0.0.1:${hostPort}${path.startsWith("/") ? path : `/${path}`}`
}
