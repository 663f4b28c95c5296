import type { OAuthConnectionView } from "./ServerCredentials.ts"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import type { ControlPlaneRejected, ControlPlaneUnavailable } from "../errors.ts"
import { toolboxStatusOf, type ToolboxStatus } from "../lifecycle.ts"
import type { ManagedContainer } from "../ManagedInstance.ts"
import type { McpServerView } from "../mcp/McpServerView.ts"
import type { HealthStatus } from "../mcp/serverStateMachine.ts"
import type { ContainerRuntime, RuntimeFailure } from "../ports/ContainerRuntime.ts"
import type { ControlPlane, HeartbeatReport, ToolStatusReport } from "../ports/ControlPlane.ts"
import type { HostMetrics } from "../ports/HostMetrics.ts"

export interface HeartbeatSettings {
  readonly dtmaVersion: string
  /** Attempts after the first one when the backend is unreachable. */
  readonly retries: number
  readonly retryBase: Duration.Input
}

/** What the heartbeat needs of an MCP server's supervision. */
export interface McpHealthSource {
  list(): ReadonlyArray<Pick<McpServerView, "instanceName" | "containerId" | "transportType" | "healthStatus">>
  /** The server's OAuth connections' states; empty when it has none. */
  oauth?(name: string): Effect.Effect<ReadonlyArray<OAuthConnectionView>, unknown>
}

// A running container whose MCP server does not answer is not "running" for the backend.
const mcpStatus = (container: ToolboxStatus, health: HealthStatus): ToolboxStatus => {
  if (container !== "running") return container
  if (health === "unhealthy") return "error"
  if (health === "starting") return "deploying"
  if (health === "stopping" || health === "stopped") return "stopped"
  return "running"
}

export const toolStatusOf = (c: ManagedContainer, mcp?: NonNullable<ToolStatusReport["mcp"]> & { readonly health: HealthStatus }): ToolStatusReport | null => {
  if (c.accountToolInstanceId === null) return null
  const container = toolboxStatusOf(c.state, c.exitCode)
  return {
    accountToolInstanceId: c.accountToolInstanceId,
    statusOnToolbox: mcp === undefined ? container : mcpStatus(container, mcp.health),
    containerId: c.containerId,
    image: c.image,
    startedAt: c.startedAt,
    state: c.state,
    instanceName: c.name,
    kind: c.kind,
    mcp: mcp ?? null,
  }
}

export interface Heartbeat {
  /** What a heartbeat would say now. Instances without an account tool instance id are left out. */
  report(): Effect.Effect<HeartbeatReport, RuntimeFailure>
  /** One heartbeat, retried with jittered exponential backoff while the backend is unreachable. */
  send(): Effect.Effect<void, RuntimeFailure | ControlPlaneUnavailable | ControlPlaneRejected>
}

export const makeHeartbeat = (deps: {
  readonly runtime: ContainerRuntime
  readonly controlPlane: ControlPlane
  readonly metrics: HostMetrics
  readonly settings: HeartbeatSettings
  /** MCP servers' health and transport, when the DTMA supervises any. */
  readonly mcpServers?: McpHealthSource | undefined
}): Heartbeat => {
  const { runtime, controlPlane, metrics, settings } = deps
  const report = () =>
    Effect.all({ containers: runtime.list(), system: metrics.sample() }).pipe(
      Effect.flatMap(({ containers, system }) =>
        // An agent's own instance of a `per_agent` server is its server's part, not an instance of the toolbox.
        Effect.forEach(
          containers.filter((c) => c.isolatedFor == null),
          (c) => {
            const server = deps.mcpServers?.list().find((v) => v.containerId === c.containerId)
            if (server === undefined) return Effect.succeed(toolStatusOf(c))
            const oauth = deps.mcpServers?.oauth?.(server.instanceName).pipe(Effect.orElseSucceed(() => [])) ?? Effect.succeed([])
            return Effect.map(oauth, (connections) =>
              toolStatusOf(c, {
                transport: server.transportType,
                health: server.healthStatus,
                ...(connections.length === 0
                  ? {}
                  : { oauth: connections.map(({ connectionId, provider, status, expiresAt }) => ({ connectionId, provider, status, expiresAt })) }),
              }),
            )
          },
        ).pipe(Effect.map((tools) => ({ dtmaVersion: settings.dtmaVersion, system, tools: tools.flatMap((t) => (t === null ? [] : [t])) }))),
      ),
    )
  const send = () =>
    report().pipe(
      Effect.flatMap((r) =>
        controlPlane.reportHeartbeat(r).pipe(
          Effect.retry({
            schedule: Schedule.exponential(settings.retryBase).pipe(Schedule.jittered),
            times: settings.retries,
            while: (e) => e._tag === "ControlPlaneUnavailable",
          }),
        ),
      ),
    )
  return { report, send }
}

/**
 * Sends a heartbeat now and then every `intervalMs`, for as long as the fiber lives (fork it where
 * background work lives). Each outcome goes to `report`; a failed heartbeat never ends the loop.
 */
export const repeatHeartbeats = (
  heartbeat: Heartbeat,
  intervalMs: number,
  report: (outcome: Exit.Exit<void, RuntimeFailure | ControlPlaneUnavailable | ControlPlaneRejected>) => Effect.Effect<void>,
): Effect.Effect<void> => heartbeat.send().pipe(Effect.exit, Effect.flatMap(report), Effect.repeat(Schedule.fixed(intervalMs)), Effect.asVoid)
