import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { ControlPlane, HeartbeatReport } from "@dtma/domain"
import { arbHeartbeatReport } from "../arbHeartbeatReport.ts"
import { failureOf, run } from "../effects.ts"
import { freshSubject } from "./freshSubject.ts"

/** How a backend can fail a heartbeat. */
export type BackendFault =
  /** Drops the connection without answering. */
  | "unreachable"
  /** Answers 503. */
  | "server_error"
  /** Answers 429. */
  | "busy"
  /** Never answers. */
  | "silent"
  /** Answers 401: it does not know the DTMA's token. */
  | "unknown_token"
  /** Answers 400. */
  | "bad_request"

/** A control plane under test, and the backend behind it, driven by hand. */
export interface ControlPlaneSubject {
  readonly controlPlane: ControlPlane
  /** The backend fails the next heartbeat this way, then accepts again. */
  failNext(fault: BackendFault): void
  /** Every heartbeat the backend accepted, in order, as the DTMA reported it. */
  accepted(): ReadonlyArray<HeartbeatReport>
  /** The DTMA's secret for the backend: no error may show it, even one whose answer echoes it. */
  readonly token: string
  /** The bound the control plane puts on one heartbeat. */
  readonly timeoutMs: number
  readonly cleanup?: () => Promise<void>
}

const transient: ReadonlyArray<BackendFault> = ["unreachable", "server_error", "busy", "silent"]
const refusals = [
  ["unknown_token", 401],
  ["bad_request", 400],
] as const
const sample = (): HeartbeatReport => fc.sample(arbHeartbeatReport, { numRuns: 1, seed: 12 })[0]!

/** Behaviour every ControlPlane must have; run on the recording fake and on the Agentopia adapter over a loopback backend. */
export const controlPlaneContract = (label: string, setup: () => Promise<ControlPlaneSubject>): void => {
  describe(`ControlPlane contract: ${label}`, () => {
    const withSubject = freshSubject(setup)

    it(
      "delivers every heartbeat once, as it was reported, in order",
      withSubject(async (s) => {
        await fc.assert(
          fc.asyncProperty(fc.array(arbHeartbeatReport, { minLength: 1, maxLength: 3 }), async (reports) => {
            const before = s.accepted().length
            for (const report of reports) await run(s.controlPlane.reportHeartbeat(report))
            expect(s.accepted().slice(before)).toEqual(reports)
          }),
          { numRuns: 15 },
        )
      }),
    )

    it.each(transient)("reports a backend that is %s as unavailable, delivers nothing, and delivers the next heartbeat", (fault) =>
      withSubject(async (s) => {
        const [failed, next] = [sample(), { ...sample(), dtmaVersion: "9.9.9" }]
        s.failNext(fault)
        const started = Date.now()
        const error = await failureOf(s.controlPlane.reportHeartbeat(failed))
        expect(error).toMatchObject({ _tag: "ControlPlaneUnavailable", detail: expect.stringMatching(/\S/) })
        expect(Date.now() - started).toBeLessThan(s.timeoutMs + 1_000)
        await run(s.controlPlane.reportHeartbeat(next))
        expect(s.accepted()).toEqual([next])
      })(),
    )

    it.each(refusals)("reports a backend that answers %s as a rejection with status %i, not worth a retry", (fault, status) =>
      withSubject(async (s) => {
        s.failNext(fault)
        expect(await failureOf(s.controlPlane.reportHeartbeat(sample()))).toMatchObject({ _tag: "ControlPlaneRejected", status })
        expect(s.accepted()).toEqual([])
      })(),
    )

    it(
      "never shows its token in an error, even when the backend's answer echoes it",
      withSubject(async (s) => {
        for (const fault of [...transient, ...refusals.map(([f]) => f)]) {
          s.failNext(fault)
          const error = await failureOf(s.controlPlane.reportHeartbeat(sample()))
          for (const shown of [error.message, String(error), JSON.stringify(error)]) expect(`${fault}: ${shown}`).not.toContain(s.token)
        }
      }),
    )
  })
}
