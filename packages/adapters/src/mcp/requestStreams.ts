import { randomUUID } from "node:crypto"
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js"
import { createParser, type EventSourceMessage } from "eventsource-parser"
import { isNotification, isRequest, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest } from "@dtma/domain"

/** A message as delivered, and the request whose own event stream carried it, if one did. */
export interface Unmarked {
  readonly message: JsonRpcMessage
  readonly relatedRequestId?: JsonRpcId
}

/** Hooks that tell which request's event stream carried each notification and server request of a Streamable HTTP client transport. */
export interface RequestStreams {
  /** The transport's `fetch`: marks each notification and request a request's own event stream carries with that request's id. */
  readonly fetch: FetchLike
  /** The message without its mark, and the request it was marked with; a message nobody marked is returned as it is. */
  readonly unmark: (message: JsonRpcMessage) => Unmarked
}

const MARK = "dtma/request-stream"

interface Mark {
  readonly nonce: string
  readonly request: JsonRpcId
  /** What marking added besides the mark, to take away with it: `params`, `_meta`, or nothing. */
  readonly added: "params" | "_meta" | null
  /** What the server's own `_meta` held under the mark's key, if anything (put back). */
  readonly prior?: unknown
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** The id of the one request a POST body carries; undefined for anything else (notifications, answers, batches). */
const requestIdOf = (body: unknown): JsonRpcId | undefined => {
  if (typeof body !== "string") return undefined
  try {
    const message: unknown = JSON.parse(body)
    if (!isObject(message) || typeof message["method"] !== "string") return undefined
    const id = message["id"]
    return typeof id === "string" || typeof id === "number" ? id : undefined
  } catch {
    return undefined
  }
}

const isEventStream = (response: Response): boolean => response.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase() === "text/event-stream"

/** A JSON-RPC notification or request whose params, if any, are an object with an object `_meta`, if any: where a mark fits. */
const markable = (value: unknown): value is Record<string, unknown> => {
  if (!isObject(value) || typeof value["method"] !== "string") return false
  const params = value["params"]
  return params === undefined || (isObject(params) && (params["_meta"] === undefined || isObject(params["_meta"])))
}

/** `data` with the mark added when it is a JSON-RPC notification or request; anything else as it is. */
const markedData = (data: string, mark: (notification: Record<string, unknown>) => Record<string, unknown>): string => {
  let value: unknown
  try {
    value = JSON.parse(data)
  } catch {
    return data
  }
  return markable(value) ? JSON.stringify(mark(value)) : data
}

/** One event, written again: its data split into lines as it came. */
const frame = (event: EventSourceMessage, data: string): string => {
  let text = event.id === undefined ? "" : `id: ${event.id}\n`
  if (event.event !== undefined) text += `event: ${event.event}\n`
  for (const line of data.split("\n")) text += `data: ${line}\n`
  return `${text}\n`
}

/** Re-frames an event stream, marking the notifications and requests of its `message` events with `mark`. */
const marking = (mark: (notification: Record<string, unknown>) => Record<string, unknown>): TransformStream<string, string> => {
  let out: TransformStreamDefaultController<string> | null = null
  const parser = createParser({
    onEvent: (event) => out?.enqueue(frame(event, event.event === undefined || event.event === "message" ? markedData(event.data, mark) : event.data)),
    onRetry: (ms) => out?.enqueue(`retry: ${ms}\n\n`),
  })
  return new TransformStream<string, string>({
    start: (controller) => void (out = controller),
    transform: (chunk) => parser.feed(chunk),
  })
}

/**
 * The SDK's Streamable HTTP client transport (1.32) hands every message to one `onmessage`, whether
 * it came on a request's own event stream (a POST's answer) or on the standalone GET stream, and
 * says nothing of which. The server says it by the stream it picks: a notification it sends about a
 * request (a log message of that request, its progress), or a request (sampling, elicitation), goes
 * on that request's stream.
 *
 * `fetch` re-frames the event stream answering each POST of a request, event by event, adding to
 * each notification's and request's `_meta` a mark with that request's id and a nonce of this connection; the
 * channel reads the mark and takes it away with `unmark`, so the message is delivered as the server
 * sent it. A mark without the nonce (a server cannot know it) is the server's own `_meta`, left alone.
 */
export const makeRequestStreams = (baseFetch?: FetchLike): RequestStreams => {
  const nonce = randomUUID()
  const markWith =
    (request: JsonRpcId) =>
    (notification: Record<string, unknown>): Record<string, unknown> => {
      const params = notification["params"]
      const meta = isObject(params) ? params["_meta"] : undefined
      const added: Mark["added"] = !isObject(params) ? "params" : isObject(meta) ? null : "_meta"
      const mark: Mark = isObject(meta) && MARK in meta ? { nonce, request, added, prior: meta[MARK] } : { nonce, request, added }
      return { ...notification, params: { ...(isObject(params) ? params : {}), _meta: { ...(isObject(meta) ? meta : {}), [MARK]: mark } } }
    }

  const unmark = (message: JsonRpcMessage): Unmarked => {
    if (!isNotification(message) && !isRequest(message)) return { message }
    const meta = message.params?.["_meta"]
    const mark = isObject(meta) ? meta[MARK] : undefined
    if (!isObject(mark) || mark["nonce"] !== nonce) return { message }
    const { request, added } = mark as unknown as Mark
    const { [MARK]: _mark, ...restMeta } = meta as Record<string, unknown>
    const { _meta: _withMark, ...restParams } = message.params as Record<string, unknown>
    const priorMeta = "prior" in mark ? { ...restMeta, [MARK]: mark["prior"] } : restMeta
    const params = added === "_meta" ? restParams : { ...restParams, _meta: priorMeta }
    const id = isRequest(message) ? { id: message.id } : {}
    const unmarked: JsonRpcNotification | JsonRpcRequest =
      added === "params" ? { jsonrpc: "2.0", ...id, method: message.method } : { jsonrpc: "2.0", ...id, method: message.method, params }
    return { message: unmarked, relatedRequestId: request }
  }

  const fetchMarking: FetchLike = async (url, init) => {
    const response = await (baseFetch ?? fetch)(url, init)
    const request = init?.method === "POST" ? requestIdOf(init.body) : undefined
    if (request === undefined || response.body === null || !response.ok || !isEventStream(response)) return response
    const body = response.body
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(marking(markWith(request)))
      .pipeThrough(new TextEncoderStream())
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
  }

  return { fetch: fetchMarking, unmark }
}
