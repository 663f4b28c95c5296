import * as Effect from "effect/Effect"
import { ControlPlaneRejected, ControlPlaneUnavailable, type ControlPlane, type HeartbeatReport } from "@dtma/domain"

/**
 * A fault of the backend, failing an attempt as the real adapter reports it: `unavailable` (no
 * connection), `server_error` (503), `busy` (429) and `timeout` (no answer within `timeoutMs`) are
 * worth a retry; `rejected` (401, unknown token) and `bad_request` (400) are not.
 */
export type ControlPlaneFault = "unavailable" | "server_error" | "busy" | "timeout" | "rejected" | "bad_request"

const failure = (fault: ControlPlaneFault, timeoutMs: number): ControlPlaneUnavailable | ControlPlaneRejected => {
  switch (fault) {
    case "unavailable":
      return new ControlPlaneUnavailable({ detail: "connect ECONNREFUSED" })
    case "server_error":
      return new ControlPlaneUnavailable({ detail: "503 Service Unavailable" })
    case "busy":
      return new ControlPlaneUnavailable({ detail: "429 Too Many Requests" })
    case "timeout":
      return new ControlPlaneUnavailable({ detail: `no answer within ${timeoutMs} ms` })
    case "rejected":
      return new ControlPlaneRejected({ status: 401, detail: "unknown DTMA token" })
    case "bad_request":
      return new ControlPlaneRejected({ status: 400, detail: "400 Bad Request" })
  }
}

/** A backend that records heartbeats; faults are queued answers for the next attempts. */
export class RecordingControlPlane implements ControlPlane {
  readonly received: Array<HeartbeatReport> = []
  attempts = 0
  /** How long an attempt the backend never answers takes to fail (on the effect's clock). */
  readonly timeoutMs: number
  private readonly answers: Array<ControlPlaneFault> = []

  constructor(options: { readonly timeoutMs?: number } = {}) {
    this.timeoutMs = options.timeoutMs ?? 0
  }

  /** The next `count` attempts fail as `kind`. */
  failNext(kind: ControlPlaneFault, count = 1): void {
    for (let i = 0; i < count; i++) this.answers.push(kind)
  }

  reportHeartbeat(report: HeartbeatReport) {
    return Effect.suspend((): Effect.Effect<void, ControlPlaneUnavailable | ControlPlaneRejected> => {
      this.attempts += 1
      const answer = this.answers.shift()
      if (answer === "timeout") return Effect.sleep(this.timeoutMs).pipe(Effect.andThen(Effect.fail(failure(answer, this.timeoutMs))))
      if (answer !== undefined) return Effect.fail(failure(answer, this.timeoutMs))
      this.received.push(report)
      return Effect.void
    })
  }
}
