import * as Result from "effect/Result"
import { IllegalTransition } from "../lifecycle.ts"

/** The health an MCP server is reported with. */
export type HealthStatus = "starting" | "healthy" | "degraded" | "unhealthy" | "stopping" | "stopped"

export type HealthEvent =
  | { readonly _tag: "StartRequested" }
  | { readonly _tag: "Ready" }
  | { readonly _tag: "PingSucceeded" }
  | { readonly _tag: "PingFailed"; readonly consecutive: number }
  | { readonly _tag: "Disconnected" }
  | { readonly _tag: "ContainerDied" }
  | { readonly _tag: "Restarting" }
  | { readonly _tag: "GaveUp" }
  | { readonly _tag: "StopRequested" }
  | { readonly _tag: "Stopped" }

/** Failed pings in a row after which a degraded server counts as unhealthy. */
export const UNHEALTHY_AFTER_FAILED_PINGS = 3

const next = (from: HealthStatus, event: HealthEvent): HealthStatus | undefined => {
  switch (event._tag) {
    case "StopRequested":
      return from === "stopped" ? "stopped" : "stopping"
    case "Stopped":
      return "stopped"
    case "StartRequested":
      return "starting"
    case "Restarting":
      return from === "stopping" || from === "stopped" ? undefined : "starting"
    case "Ready":
      return from === "stopping" || from === "stopped" ? undefined : "healthy"
    case "PingSucceeded":
      return from === "healthy" || from === "degraded" ? "healthy" : undefined
    case "PingFailed":
      if (from !== "healthy" && from !== "degraded") return undefined
      return event.consecutive >= UNHEALTHY_AFTER_FAILED_PINGS ? "unhealthy" : "degraded"
    case "Disconnected":
    case "ContainerDied":
    case "GaveUp":
      return from === "stopping" || from === "stopped" ? undefined : "unhealthy"
  }
}

/** The next health, or why the event cannot happen now (a stopped server does not become healthy). */
export const healthTransition = (from: HealthStatus, event: HealthEvent): Result.Result<HealthStatus, IllegalTransition> => {
  const to = next(from, event)
  return to === undefined ? Result.fail(new IllegalTransition({ from, event: event._tag })) : Result.succeed(to)
}
