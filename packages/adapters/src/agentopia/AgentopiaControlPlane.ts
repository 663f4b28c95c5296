import { Effect, Redacted } from "effect"
import { ControlPlaneRejected, ControlPlaneUnavailable, type ControlPlane, type HeartbeatReport } from "@dtma/domain"
import { heartbeatBody } from "./heartbeatBody.ts"

export interface AgentopiaControlPlaneOptions {
  /** e.g. `https://<project>.supabase.co/functions/v1`; no trailing slash needed. */
  readonly baseUrl: string
  /** The DTMA's own token, presented to the backend. */
  readonly token: Redacted.Redacted<string>
  readonly timeoutMs: number
  readonly fetch?: typeof globalThis.fetch
}

// 408 and 429 are the backend being busy, not refusing us: worth a retry like a 5xx.
const isTransient = (status: number): boolean => status >= 500 || status === 408 || status === 429

/** POSTs JSON to the backend; classifies every outcome as the port's closed error union. */
export const postJson = (
  options: AgentopiaControlPlaneOptions,
  path: string,
  body: unknown,
): Effect.Effect<string, ControlPlaneUnavailable | ControlPlaneRejected> =>
  Effect.tryPromise({
    try: (signal) =>
      (options.fetch ?? fetch)(`${options.baseUrl.replace(/\/+$/, "")}/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${Redacted.value(options.token)}` },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]),
      }),
    catch: (e) => new ControlPlaneUnavailable({ detail: describeFetchError(e, options.timeoutMs) }),
  }).pipe(
    Effect.flatMap((response) =>
      response.ok
        ? Effect.promise(() => response.text())
        : Effect.promise(() => response.text().catch(() => "")).pipe(
            Effect.flatMap((text): Effect.Effect<never, ControlPlaneUnavailable | ControlPlaneRejected> => {
              const detail = `${response.status} ${response.statusText} ${text.slice(0, 200)}`.trim()
              return isTransient(response.status)
                ? Effect.fail(new ControlPlaneUnavailable({ detail }))
                : Effect.fail(new ControlPlaneRejected({ status: response.status, detail }))
            }),
          ),
    ),
  )

const describeFetchError = (e: unknown, timeoutMs: number): string => {
  if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) return `no answer within ${timeoutMs} ms`
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : ""
  return `${e instanceof Error ? e.message : String(e)}${cause}`
}

/** The Agentopia backend over HTTP. */
export const makeAgentopiaControlPlane = (options: AgentopiaControlPlaneOptions): ControlPlane => ({
  reportHeartbeat: (report: HeartbeatReport) => postJson(options, "heartbeat", heartbeatBody(report)).pipe(Effect.asVoid),
})

/** For a standalone DTMA (no backend configured): heartbeats go nowhere. */
export const standaloneControlPlane: ControlPlane = { reportHeartbeat: () => Effect.void }
