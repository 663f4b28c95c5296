import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { ControlPlaneRejected, ControlPlaneUnavailable, type ControlPlane, type HeartbeatReport } from "@dtma/domain"
import { postToBackend, isTransientStatus, type BackendEndpoint } from "./backendPost.ts"
import { heartbeatBody } from "./heartbeatBody.ts"

/** Where the backend is and how long to wait for it. */
export type AgentopiaControlPlaneOptions = BackendEndpoint

/**
 * A backend may echo the authorization it got, in its body or even its reason phrase: the body is
 * not quoted, and the token is cut from whatever else reaches a message.
 */
const withoutToken = (options: AgentopiaControlPlaneOptions, detail: string): string => detail.replaceAll(Redacted.value(options.token), "<redacted>")

/** POSTs JSON to the backend; classifies every outcome as the port's closed error union. */
export const postJson = (
  options: AgentopiaControlPlaneOptions,
  path: string,
  body: unknown,
): Effect.Effect<string, ControlPlaneUnavailable | ControlPlaneRejected> =>
  postToBackend(options, path, body).pipe(
    Effect.mapError((e) => new ControlPlaneUnavailable({ detail: withoutToken(options, e.detail) })),
    Effect.flatMap(({ status, statusText, text }): Effect.Effect<string, ControlPlaneUnavailable | ControlPlaneRejected> => {
      if (status >= 200 && status < 300) return Effect.succeed(text)
      const detail = withoutToken(options, `${status} ${statusText}`.trim())
      return isTransientStatus(status) ? Effect.fail(new ControlPlaneUnavailable({ detail })) : Effect.fail(new ControlPlaneRejected({ status, detail }))
    }),
  )

/** The Agentopia backend over HTTP. */
export const makeAgentopiaControlPlane = (options: AgentopiaControlPlaneOptions): ControlPlane => ({
  reportHeartbeat: (report: HeartbeatReport) => postJson(options, "heartbeat", heartbeatBody(report)).pipe(Effect.asVoid),
})

/** For a standalone DTMA (no backend configured): heartbeats go nowhere. */
export const standaloneControlPlane: ControlPlane = { reportHeartbeat: () => Effect.void }
