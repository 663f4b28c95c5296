import * as Data from "effect/Data"
import * as Result from "effect/Result"
import type { ContainerState } from "./ManagedInstance.ts"

/** Where an instance is in its life, as the DTMA sees it. */
export type LifecycleState = "deploying" | "starting" | "running" | "stopping" | "stopped" | "exited" | "failed" | "removing" | "removed"

export type LifecycleEvent =
  | { readonly _tag: "StartRequested" }
  | { readonly _tag: "StopRequested" }
  | { readonly _tag: "RemoveRequested" }
  | { readonly _tag: "ContainerStarted" }
  | { readonly _tag: "StartFailed" }
  | { readonly _tag: "ContainerStopped" }
  | { readonly _tag: "ContainerDied" }
  | { readonly _tag: "ContainerRemoved" }

export type LifecycleEventTag = LifecycleEvent["_tag"]

/** An event that cannot happen in a state, in any of the domain's state machines. */
export class IllegalTransition extends Data.TaggedError("IllegalTransition")<{
  readonly from: string
  readonly event: string
}> {
  override get message(): string {
    return `Cannot apply ${this.event} to an instance that is ${this.from}.`
  }
}

type Table = { readonly [S in LifecycleState]: Partial<Record<LifecycleEventTag, LifecycleState>> }

// Every state accepts RemoveRequested except removed: removal must always be possible.
const TABLE: Table = {
  deploying: { ContainerStarted: "running", StartFailed: "failed", ContainerDied: "exited", RemoveRequested: "removing" },
  starting: { ContainerStarted: "running", StartFailed: "failed", ContainerDied: "exited", RemoveRequested: "removing" },
  running: {
    StartRequested: "running",
    ContainerStarted: "running",
    StopRequested: "stopping",
    ContainerStopped: "stopped",
    ContainerDied: "exited",
    RemoveRequested: "removing",
  },
  stopping: { ContainerStopped: "stopped", ContainerDied: "stopped", StopRequested: "stopping", RemoveRequested: "removing" },
  stopped: { StartRequested: "starting", ContainerStarted: "running", StopRequested: "stopped", ContainerStopped: "stopped", RemoveRequested: "removing" },
  exited: {
    StartRequested: "starting",
    ContainerStarted: "running",
    StopRequested: "stopped",
    ContainerStopped: "stopped",
    ContainerDied: "exited",
    RemoveRequested: "removing",
  },
  failed: { StartRequested: "starting", StopRequested: "stopped", ContainerStopped: "stopped", RemoveRequested: "removing" },
  removing: { RemoveRequested: "removing", ContainerRemoved: "removed" },
  removed: {},
}

/** The next state, or why the event cannot happen now. */
export const transition = (from: LifecycleState, event: LifecycleEvent): Result.Result<LifecycleState, IllegalTransition> => {
  const next = TABLE[from][event._tag]
  return next === undefined ? Result.fail(new IllegalTransition({ from, event: event._tag })) : Result.succeed(next)
}

/** The lifecycle state an observed container is in (after a DTMA restart, say). */
export const lifecycleOf = (state: ContainerState): LifecycleState => {
  switch (state) {
    case "running":
    case "paused":
    case "restarting":
      return "running"
    case "created":
      return "stopped"
    case "exited":
    case "dead":
      return "exited"
    case "removing":
      return "removing"
  }
}

/** The backend's `status_on_toolbox` enum for an observed container. */
export type ToolboxStatus = "running" | "stopped" | "deploying" | "error"

export const toolboxStatusOf = (state: ContainerState, exitCode: number | null): ToolboxStatus => {
  switch (state) {
    case "running":
      return "running"
    case "created":
    case "restarting":
      return "deploying"
    case "paused":
      return "stopped"
    case "exited":
      // 0, and death by the signals a stop sends (128 + signal: SIGINT 130, SIGTERM 143, SIGKILL after the grace 137), mean stopped.
      return exitCode === null || [0, 130, 137, 143].includes(exitCode) ? "stopped" : "error"
    case "removing":
    case "dead":
      return "error"
  }
}
