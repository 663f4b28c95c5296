import { ErrorCodes, type JsonRpcMessage, type JsonRpcResponse } from "./jsonrpc.ts"
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
 * (`resultType`, caching hints, `serverInfo` in `_meta`) dropped, and an `input_required` result — a question the DTMA cannot
 * put to a 2025-era client yet — turned into an error saying so.
 */
export const legacyResponse = (method: string, response: JsonRpcResponse): JsonRpcResponse => {
  if (!("result" in response)) return response
  const { resultType, ttlMs: _ttl, cacheScope: _scope, ...result } = response.result
  if (resultType === "input_required") {
    const message = `the server asked for input to ${method} (2026-07-28 input_required), which the DTMA does not relay to a 2025-era client`
    return { jsonrpc: "2.0", id: response.id, error: { code: ErrorCodes.InternalError, message } }
  }
  const meta = isObject(result["_meta"]) ? Object.fromEntries(Object.entries(result["_meta"]).filter(([key]) => key !== SERVER_INFO_KEY)) : undefined
  if (meta === undefined) return { ...response, result }
  const { _meta: _, ...rest } = result
  return { ...response, result: Object.keys(meta).length === 0 ? rest : { ...rest, _meta: meta } }
}
