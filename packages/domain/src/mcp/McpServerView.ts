import type { Isolation, ManagedContainer, McpTransport, OAuthBinding } from "../ManagedInstance.ts"
import type { CapabilitySnapshot } from "./discovery.ts"
import { healthOf, type HealthRecord, type HealthStatus, type SupervisedServer } from "./serverStateMachine.ts"

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
  readonly isolation: Isolation
  /** A `per_agent` server's agents' own instances (empty for a shared one); the fields above are its base instance's. */
  readonly instances: ReadonlyArray<IsolatedInstanceView>
}

/** One agent's own instance of a `per_agent` server. */
export interface IsolatedInstanceView {
  /** The agent's id: its token's `sub`. */
  readonly agentId: string
  /** A stdio server's instance is a container of its own; a network server's, a connection to the server's container. */
  readonly containerId: string
  readonly containerName: string
  readonly containerState: ManagedContainer["state"]
  readonly healthStatus: HealthStatus
  readonly restartCount: number
  readonly lastError: string | null
  readonly createdAt: string
  readonly lastUsedAt: string
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
  healthStatus: healthOf(s.state),
  lastHealthCheck: s.lastHealthCheck,
  pingLatencyMs: s.pingLatencyMs,
  restartCount: s.restartCount,
  lastError: s.lastError,
  healthHistory: s.history,
  capabilities: s.snapshot,
  oauth: s.container.oauth ?? null,
  isolation: s.container.mcp?.isolation ?? "shared",
  instances: [],
})
