import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
/** Where and how to reach the Agentopia backend. */
export interface BackendEndpoint {
  /** e.g. `https://<project>.supabase.co/functions/v1`; no trailing slash needed. */
  readonly baseUrl: string
  /** The DTMA's own token, presented to the backend. */
  readonly token: Redacted.Redacted<string>
  /** Bounds one request, answer body included. */
  readonly timeoutMs: number
  readonly fetch?: typeof globalThis.fetch
}

/** Whatever the backend answered, any status; the body as text. */
export interface BackendAnswer {
  readonly status: number
  readonly statusText: string
  readonly text: string
}

/** No answer at all: refused, reset, or silent past the timeout. Never carries the token. */
export class BackendUnreachable extends Data.TaggedError("BackendUnreachable")<{
  readonly timedOut: boolean
  readonly detail: string
}> {}

/** 408 and 429 are the backend being busy, not refusing us: worth a retry like a 5xx. */
export const isTransientStatus = (status: number): boolean => status >= 500 || status === 408 || status === 429

/** POSTs JSON to `{baseUrl}/{path}` with the DTMA's bearer token; any status is an answer. */
export const postToBackend = (endpoint: BackendEndpoint, path: string, body: unknown): Effect.Effect<BackendAnswer, BackendUnreachable> =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await (endpoint.fetch ?? fetch)(`${endpoint.baseUrl.replace(/\/+$/, "")}/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${Redacted.value(endpoint.token)}` },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(endpoint.timeoutMs)]),
      })
      // Read inside the same signal, so a body that stalls is bounded by the timeout too.
      const text = await response.text()
      return { status: response.status, statusText: response.statusText, text }
    },
    catch: (e) => unreachable(e, endpoint.timeoutMs),
  })

const unreachable = (e: unknown, timeoutMs: number): BackendUnreachable => {
  if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) {
    return new BackendUnreachable({ timedOut: true, detail: `no answer within ${timeoutMs} ms` })
  }
  const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : ""
  return new BackendUnreachable({ timedOut: false, detail: `${e instanceof Error ? e.message : String(e)}${cause}` })
}
