import * as Effect from "effect/Effect"
import { ControlPlaneRejected, ControlPlaneUnavailable, type ControlPlane, type HeartbeatReport } from "@dtma/domain"
import { postToBackend, isTransientStatus, type BackendEndpoint } from "./backendPost.ts"
import { heartbeatBody } from "./heartbeatBody.ts"

/** Where the backend is and how long to wait for it. */
export type AgentopiaControlPlaneOptions = BackendEndpoint

/** POSTs JSON to the backend; classifies every outcome as the port's closed error union. */
export const postJson = (
  options: AgentopiaControlPlaneOptions,
  path: string,
  body: unknown,
): Effect.Effect<string, ControlPlaneUnavailable | ControlPlaneRejected> =>
  postToBackend(options, path, body).pipe(
    Effect.mapError((e) => new ControlPlaneUnavailable({ detail: e.detail })),
    Effect.flatMap(({ status, statusText, text }): Effect.Effect<string, ControlPlaneUnavailable | ControlPlaneRejected> => {
      if (status >= 200 && status < 300) return Effect.succeed(text)
      const detail = `${status} ${statusText} ${text.slice(0, 200)}`.trim()
      return isTransientStatus(status)
        ? Effect.fail(new ControlPlaneUnavailable({ detail }))
        : Effect.fail(new ControlPlaneRejected({ status, detail }))
    }),
  )

/** The Agentopia backend over HTTP. */
export const makeAgentopiaControlPlane = (options: AgentopiaControlPlaneOptions): ControlPlane => ({
  reportHeartbeat: (report: HeartbeatReport) => postJson(options, "heartbeat", heartbeatBody(report)).pipe(Effect.asVoid),
})

/** For a standalone DTMA (no backend configured): heartbeats go nowhere. */
export const standaloneControlPlane: ControlPlane = { reportHeartbeat: () => Effect.void }
