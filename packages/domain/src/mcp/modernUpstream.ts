import { ErrorCodes, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from "./jsonrpc.ts"
import type { ServerHello } from "./UpstreamSession.ts"

// A server that speaks MCP 2026-07-28 (basic/versioning.mdx): no `initialize`, no session, no
// `ping`; every request and notification carries the per-request envelope in `params._meta`, and
// `server/discover` says what the server is. What the DTMA changes on its way to such a server and
// back, as pure functions.

/** The modern revision the DTMA speaks to servers. */
export const MODERN_PROTOCOL_VERSION = "2026-07-28"

export const PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
const CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
const CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
const SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"

type Fields = Readonly<Record<string, unknown>>

const isObject = (value: unknown): value is Fields => typeof value === "object" && value !== null && !Array.isArray(value)

/** Whether a protocol revision is modern (2026-07-28 or later; revisions are dates). */
export const isModernVersion = (version: string): boolean => version >= MODERN_PROTOCOL_VERSION

/** Whether the server behind a session speaks the modern revision (its hello came from `server/discover`). */
export const isModernHello = (hello: Pick<ServerHello, "protocolVersion">): boolean => isModernVersion(hello.protocolVersion)

/** What the DTMA asks to learn that a server is alive: `ping` is gone in 2026-07-28, `server/discover` is what every server answers. */
export const healthMethodOf = (hello: Pick<ServerHello, "protocolVersion">): string => (isModernHello(hello) ? "server/discover" : "ping")

/**
 * The DTMA's own envelope: for its own requests (discovery, health) and those of 2025-era clients it
 * translates. No client capabilities: the DTMA cannot answer an `input_required` for them.
 */
export const dtmaEnvelope = (clientInfo: { readonly name: string; readonly version: string }): Fields => ({
  [PROTOCOL_VERSION_KEY]: MODERN_PROTOCOL_VERSION,
  [CLIENT_CAPABILITIES_KEY]: {},
  [CLIENT_INFO_KEY]: clientInfo,
})

/** The kinds of request a server may put to a client, by the capability a client declares for each (mrtr.mdx, InputRequests). */
const ASKABLE_CAPABILITIES = ["elicitation", "sampling", "roots"] as const

const LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"

/**
 * The DTMA's envelope for a 2025-era client's request, declaring what that client said it can be
 * asked (its `initialize` capabilities: elicitation, sampling, roots, nothing else), so that a
 * server may put those questions to it (mrtr.mdx: never one the client did not declare), and the log
 * level it set, if any (logging.mdx: a server sends a request's log messages only when it names one).
 */
export const envelopeDeclaring = (envelope: Fields, capabilities: Fields, logLevel: string | null = null): Fields => ({
  ...envelope,
  [CLIENT_CAPABILITIES_KEY]: Object.fromEntries(ASKABLE_CAPABILITIES.filter((c) => isObject(capabilities[c])).map((c) => [c, capabilities[c]])),
  ...(logLevel === null ? {} : { [LOG_LEVEL_KEY]: logLevel }),
})

/** What a server asks before it can answer (mrtr.mdx, InputRequiredResult): its requests by key, and its state to echo. */
export interface InputRequired {
  readonly inputRequests: ReadonlyArray<readonly [string, { readonly method: string; readonly params?: Fields }]>
  readonly requestState: string | undefined
}

/** The server's `input_required` result, or null for any other answer; "malformed" when it is one but breaks mrtr.mdx. */
export const inputRequiredOf = (response: JsonRpcResponse): InputRequired | "malformed" | null => {
  if (!("result" in response) || response.result["resultType"] !== "input_required") return null
  const { inputRequests, requestState } = response.result
  if (requestState !== undefined && typeof requestState !== "string") return "malformed"
  if (inputRequests === undefined) return requestState === undefined ? "malformed" : { inputRequests: [], requestState }
  if (!isObject(inputRequests)) return "malformed"
  const asked: Array<readonly [string, { readonly method: string; readonly params?: Fields }]> = []
  for (const [key, value] of Object.entries(inputRequests)) {
    if (!isObject(value) || typeof value["method"] !== "string" || (value["params"] !== undefined && !isObject(value["params"]))) return "malformed"
    asked.push([key, value["params"] === undefined ? { method: value["method"] } : { method: value["method"], params: value["params"] as Fields }])
  }
  return { inputRequests: asked, requestState }
}

/**
 * `request` as a 2026-07-28 client retries it (mrtr.mdx): the same method and arguments, with the
 * client's answers (null: the server asked nothing) and, when the server gave one, its state exactly
 * as given; none of an earlier round's.
 */
export const retriedWith = (request: JsonRpcRequest, inputResponses: Fields | null, requestState: string | undefined): JsonRpcRequest => {
  const { inputResponses: _answers, requestState: _state, ...params } = request.params ?? {}
  return { ...request, params: { ...params, ...(inputResponses === null ? {} : { inputResponses }), ...(requestState === undefined ? {} : { requestState }) } }
}

/** Whether a request or notification carries the envelope already (a 2026-07-28 client's, passed through). */
export const hasEnvelope = (message: JsonRpcMessage): boolean => {
  const params = "method" in message ? message.params : undefined
  const meta = params?.["_meta"]
  return isObject(meta) && typeof meta[PROTOCOL_VERSION_KEY] === "string"
}

/** A request or notification with `envelope` in its `_meta` unless it has one already; a response as it is. */
export const withEnvelope = <M extends JsonRpcMessage>(message: M, envelope: Fields): M => {
  if (!("method" in message) || hasEnvelope(message)) return message
  const params = message.params ?? {}
  const meta = isObject(params["_meta"]) ? params["_meta"] : {}
  return { ...message, params: { ...params, _meta: { ...envelope, ...meta } } }
}

const SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId"

/** The server's acknowledgment of a `subscriptions/listen` (subscriptions.mdx): for the listener only. */
export const LISTEN_ACKNOWLEDGED = "notifications/subscriptions/acknowledged"

/**
 * What the DTMA listens for on a modern server (subscriptions.mdx, Notification Filter): the list
 * changes its discovered capabilities say it sends (`listChanged`); null when it sends none.
 */
export const listChangesFilterOf = (capabilities: Fields): Fields | null => {
  const sends = (kind: string) => isObject(capabilities[kind]) && capabilities[kind]["listChanged"] === true
  const filter = Object.fromEntries(
    [
      ["tools", "toolsListChanged"],
      ["prompts", "promptsListChanged"],
      ["resources", "resourcesListChanged"],
    ]
      .filter(([kind]) => sends(kind!))
      .map(([, field]) => [field, true]),
  )
  return Object.keys(filter).length === 0 ? null : filter
}

/** A notification of a listen stream as a 2025-era server sends it: without the stream's id in `_meta`. */
export const withoutSubscriptionId = (notification: JsonRpcNotification): JsonRpcNotification => {
  const meta = notification.params?.["_meta"]
  if (!isObject(meta) || !(SUBSCRIPTION_ID_KEY in meta)) return notification
  const { [SUBSCRIPTION_ID_KEY]: _id, ...rest } = meta
  const { _meta: _, ...params } = notification.params ?? {}
  return { ...notification, params: Object.keys(rest).length === 0 ? params : { ...params, _meta: rest } }
}

/** Notifications the 2026-07-28 revision removed (changelog): not sent to a modern server. */
export const REMOVED_NOTIFICATIONS: ReadonlySet<string> = new Set(["notifications/initialized", "notifications/roots/list_changed"])

/**
 * The hello of a modern server from its `server/discover` result (server/discover.mdx), or null when
 * it does not list the revision the DTMA speaks. `result` is what a 2025-era client of the DTMA gets
 * for its `initialize`: the server's capabilities, name and instructions under `legacyVersion`.
 */
export const modernHello = (discovered: Fields, legacyVersion: string): ServerHello | null => {
  const versions = discovered["supportedVersions"]
  if (!Array.isArray(versions) || !versions.includes(MODERN_PROTOCOL_VERSION)) return null
  const meta = isObject(discovered["_meta"]) ? discovered["_meta"] : {}
  const info = isObject(meta[SERVER_INFO_KEY]) ? meta[SERVER_INFO_KEY] : {}
  const serverInfo = { ...info, name: String(info["name"] ?? "unknown"), version: String(info["version"] ?? "unknown") }
  const capabilities = isObject(discovered["capabilities"]) ? discovered["capabilities"] : {}
  const instructions = typeof discovered["instructions"] === "string" ? discovered["instructions"] : null
  return {
    protocolVersion: MODERN_PROTOCOL_VERSION,
    capabilities,
    serverInfo,
    instructions,
    result: { protocolVersion: legacyVersion, capabilities, serverInfo, ...(instructions === null ? {} : { instructions }) },
  }
}

/**
 * A modern server's answer as a 2025-era requester reads it: the 2026-07-28 result fields
 * (`resultType`, caching hints, `serverInfo` in `_meta`) dropped, and an `input_required` result
 * that was not answered (`answeredWithInput`: the request came with no client to ask) turned into an
 * error saying so.
 */
export const legacyResponse = (method: string, response: JsonRpcResponse): JsonRpcResponse => {
  if (!("result" in response)) return response
  const { resultType, ttlMs: _ttl, cacheScope: _scope, ...result } = response.result
  if (resultType === "input_required") {
    const message = `the server asked for input to ${method} (2026-07-28 input_required), and no client can be asked: the request came without a session`
    return { jsonrpc: "2.0", id: response.id, error: { code: ErrorCodes.InternalError, message } }
  }
  const meta = isObject(result["_meta"]) ? Object.fromEntries(Object.entries(result["_meta"]).filter(([key]) => key !== SERVER_INFO_KEY)) : undefined
  if (meta === undefined) return { ...response, result }
  const { _meta: _, ...rest } = result
  return { ...response, result: Object.keys(meta).length === 0 ? rest : { ...rest, _meta: meta } }
}
