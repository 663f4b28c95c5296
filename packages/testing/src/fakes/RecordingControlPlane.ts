import * as Effect from "effect/Effect"
import { ControlPlaneRejected, ControlPlaneUnavailable, type ControlPlane, type HeartbeatReport } from "@dtma/domain"

/** A backend that records heartbeats; faults are queued answers for the next attempts. */
export class RecordingControlPlane implements ControlPlane {
  readonly received: Array<HeartbeatReport> = []
  attempts = 0
  private readonly answers: Array<"unavailable" | "rejected"> = []

  /** The next `count` attempts fail as `kind`. */
  failNext(kind: "unavailable" | "rejected", count = 1): void {
    for (let i = 0; i < count; i++) this.answers.push(kind)
  }

  reportHeartbeat(report: HeartbeatReport) {
    return Effect.suspend((): Effect.Effect<void, ControlPlaneUnavailable | ControlPlaneRejected> => {
      this.attempts += 1
      const answer = this.answers.shift()
      if (answer === "unavailable") return Effect.fail(new ControlPlaneUnavailable({ detail: "connect ECONNREFUSED" }))
      if (answer === "rejected") return Effect.fail(new ControlPlaneRejected({ status: 401, detail: "unknown DTMA token" }))
      this.received.push(report)
      return Effect.void
    })
  }
}
