import type * as Effect from "effect/Effect"
import type { ControlPlaneRejected, ControlPlaneUnavailable } from "../errors.ts"
import type { HostMetricsSample } from "./HostMetrics.ts"
import type { ToolboxStatus } from "../lifecycle.ts"
import { token, type Token } from "../Token.ts"

export interface ToolStatusReport {
  readonly accountToolInstanceId: string
  readonly statusOnToolbox: ToolboxStatus
  readonly containerId: string
  readonly image: string
  readonly startedAt: string | null
  readonly state: string
  readonly instanceName: string
  readonly kind: string
  /** For an MCP server: how it is reached, how healthy it is, and its OAuth connections' states (never a token). */
  readonly mcp: {
    readonly transport: string
    readonly health: string
    readonly oauth?:
      | ReadonlyArray<{ readonly connectionId: string; readonly provider: string | null; readonly status: string; readonly expiresAt: string | null }>
      | undefined
  } | null
}

export interface HeartbeatReport {
  readonly dtmaVersion: string
  readonly system: HostMetricsSample
  readonly tools: ReadonlyArray<ToolStatusReport>
}

/** The Agentopia backend, as the DTMA reports to it. */
export interface ControlPlane {
  /**
   * Delivers one heartbeat, once, within a bounded time. `ControlPlaneUnavailable` (network,
   * timeout, 5xx) is worth retrying; `ControlPlaneRejected` (4xx) is not.
   */
  reportHeartbeat(report: HeartbeatReport): Effect.Effect<void, ControlPlaneUnavailable | ControlPlaneRejected>
}

export const ControlPlane: Token<ControlPlane> = token("dtma/ControlPlane")
