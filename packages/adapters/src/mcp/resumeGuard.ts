import type { FetchLike, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js"
import { isRequest, isResponse, type JsonRpcId, type JsonRpcMessage } from "@dtma/domain"

/** Hooks that keep a Streamable HTTP client transport from resuming event streams already answered. */
export interface ResumeGuard {
  /** Options to send `message` with: a request's event stream tells the guard the id of each event. */
  readonly sendOptions: (message: JsonRpcMessage) => TransportSendOptions | undefined
  /** Sees each message the transport delivers, before anyone else. */
  readonly saw: (message: JsonRpcMessage) => void
  /** The transport's `fetch`: refuses the resumption of an answered stream, passes the rest on. */
  readonly fetch: FetchLike
}

// Bounds for requests never answered and resumptions never made, so a long connection cannot grow them.
const MAX_TRACKED = 1_024

const remember = <K, V>(map: Map<K, V>, key: K, value: V): void => {
  map.delete(key)
  map.set(key, value)
  if (map.size > MAX_TRACKED) map.delete(map.keys().next().value as K)
}

/**
 * The SDK's Streamable HTTP client (1.32) counts only a result as the answer a request's event stream
 * was waiting for: a stream that ends with a JSON-RPC *error* answer is resumed, a moment later, with
 * `GET` and `Last-Event-ID` (fixed upstream in SDK v2; typescript-sdk#2638 for 1.x). A server's event
 * store may then replay what other streams carried: server-everything's replays every later event of
 * the session, its priming events as `{}`, which the client rejects with a schema error of several
 * kilobytes each, and answers already delivered.
 *
 * The guard learns, through the `onresumptiontoken` send option, the id of the last event each
 * request's stream carried; when an error answer arrives, that id marks a stream with nothing left to
 * wait for, and a `GET` resuming after it is answered 405 without asking the server: the client takes
 * 405 as "no event stream here" and stops, quietly. Any other resumption goes to the server.
 */
export const makeResumeGuard = (baseFetch?: FetchLike): ResumeGuard => {
  const lastEventOf = new Map<JsonRpcId, string>()
  const answered = new Map<string, true>()
  return {
    sendOptions: (message) => (isRequest(message) ? { onresumptiontoken: (token) => remember(lastEventOf, message.id, token) } : undefined),
    saw: (message) => {
      if (!isResponse(message) || message.id === null) return
      const token = lastEventOf.get(message.id)
      if (token === undefined) return
      lastEventOf.delete(message.id)
      if ("error" in message) remember(answered, token, true)
    },
    fetch: (url, init) => {
      if (init?.method === "GET" && answered.size > 0) {
        const token = new Headers(init.headers).get("last-event-id")
        if (token !== null && answered.delete(token)) return Promise.resolve(new Response(null, { status: 405 }))
      }
      return (baseFetch ?? fetch)(url, init)
    },
  }
}
