import { type Duration, Effect, Schedule } from "effect"
import type { ControlPlaneRejected, ControlPlaneUnavailable } from "../errors.ts"
import { toolboxStatusOf } from "../lifecycle.ts"
import type { ManagedContainer } from "../ManagedInstance.ts"
import type { ContainerRuntime, RuntimeFailure } from "../ports/ContainerRuntime.ts"
import type { ControlPlane, HeartbeatReport, ToolStatusReport } from "../ports/ControlPlane.ts"
import type { HostMetrics } from "../ports/HostMetrics.ts"

export interface HeartbeatSettings {
  readonly dtmaVersion: string
  /** Attempts after the first one when the backend is unreachable. */
  readonly retries: number
  readonly retryBase: Duration.Input
}

export const toolStatusOf = (c: ManagedContainer): ToolStatusReport | null =>
  c.accountToolInstanceId === null
    ? null
    : {
        accountToolInstanceId: c.accountToolInstanceId,
        statusOnToolbox: toolboxStatusOf(c.state, c.exitCode),
        containerId: c.containerId,
        image: c.image,
        startedAt: c.startedAt,
        state: c.state,
        instanceName: c.name,
        kind: c.kind,
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
}): Heartbeat => {
  const { runtime, controlPlane, metrics, settings } = deps
  const report = () =>
    Effect.all({ containers: runtime.list(), system: metrics.sample() }).pipe(
      Effect.map(({ containers, system }) => ({
        dtmaVersion: settings.dtmaVersion,
        system,
        tools: containers.flatMap((c) => toolStatusOf(c) ?? []),
      })),
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
