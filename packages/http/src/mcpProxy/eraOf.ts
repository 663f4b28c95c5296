import type { IncomingHttpHeaders } from "node:http"
import { ErrorCodes, isRequest, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest } from "@dtma/domain"
import { LOG_LEVELS, type LogLevel } from "./logLevels.ts"
import type { ProxyReply } from "./proxyErrorTable.ts"
import { REFUSED } from "./streamableHttp.ts"
import { isObject } from "./isObject.ts"

// Which protocol era an HTTP request to a DTMA MCP endpoint speaks (MCP 2026-07-28,
// basic/versioning.mdx, "A dual-era server selects its behavior from how the client opens"): a
// request whose `params._meta` claims a protocol version is modern and is checked against its
// headers (basic/transports/streamable-http.mdx, "Server Validation"); anything else is 2025-era
// traffic and keeps the session rules it had. The same rule as the v2 SDK's `isLegacyRequest`
// (its `classifyInboundRequest` and `validateStandardRequestHeaders`), over a body parsed already.

export const PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
export const CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
export const CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
export const LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
export const SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId"
export const SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"

/** The 2026-07-28 error codes (basic/index.mdx, "Error Codes"). */
export const ModernErrorCodes = { HeaderMismatch: -32020, MissingRequiredClientCapability: -32021, UnsupportedProtocolVersion: -32022 } as const

/** What a modern request declares of itself in `params._meta`. */
export interface Envelope {
  readonly protocolVersion: string
  readonly clientCapabilities: Readonly<Record<string, unknown>>
  /** Absent: the request gets no log messages (logging.mdx, "Per-request log level"). */
  readonly logLevel: LogLevel | null
}

export type Era =
  | { readonly era: "legacy" }
  | { readonly era: "modern"; readonly message: JsonRpcRequest | JsonRpcNotification; readonly envelope: Envelope | null }
  | { readonly era: "refused"; readonly reply: ProxyReply }

export interface Versions {
  /** The modern revisions the DTMA serves (newest first). */
  readonly modern: ReadonlyArray<string>
  /** The 2025-era revisions it negotiates in `initialize`. */
  readonly legacy: ReadonlyArray<string>
}

export interface HttpRequestOf {
  readonly httpMethod: string
  readonly headers: IncomingHttpHeaders
  /** The parsed body of a POST (JSON-RPC messages, checked already); undefined for GET and DELETE. */
  readonly body?: JsonRpcMessage | ReadonlyArray<JsonRpcMessage>
}

/** The methods whose `Mcp-Name` header mirrors a body field, and which (streamable-http.mdx, "Standard Request Headers"). */
export const NAME_SOURCE: Readonly<Record<string, "name" | "uri">> = { "tools/call": "name", "prompts/get": "name", "resources/read": "uri" }

/** The first modern revision: a version header naming it or a later date is modern. */
const FIRST_MODERN = "2026-07-28"
const isModernVersion = (version: string): boolean => /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= FIRST_MODERN

const refused = (status: number, id: JsonRpcRequest["id"] | null, code: number, message: string, data?: unknown): Era => ({
  era: "refused",
  reply: {
    status,
    headers: status === 405 ? { allow: "POST" } : {},
    body: { jsonrpc: "2.0", id, error: { code, message, ...(data === undefined ? {} : { data }) } },
  },
})

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value.join(", ") : value
}

const metaOf = (message: JsonRpcRequest | JsonRpcNotification): Readonly<Record<string, unknown>> | undefined => {
  const meta = message.params?.["_meta"]
  return isObject(meta) ? meta : undefined
}

/** Whether a message claims the per-request envelope: its `_meta` holds the protocol-version key, whatever its value. */
const claims = (message: JsonRpcMessage): boolean => "method" in message && metaOf(message) !== undefined && PROTOCOL_VERSION_KEY in metaOf(message)!

/** What is wrong with a claimed envelope (basic/index.mdx, "Per-request protocol fields"), or null. */
const envelopeProblem = (meta: Readonly<Record<string, unknown>>): string | null => {
  if (typeof meta[PROTOCOL_VERSION_KEY] !== "string") return `${PROTOCOL_VERSION_KEY} must be a string`
  if (!(CLIENT_CAPABILITIES_KEY in meta)) return `${CLIENT_CAPABILITIES_KEY} is required`
  if (!isObject(meta[CLIENT_CAPABILITIES_KEY])) return `${CLIENT_CAPABILITIES_KEY} must be an object`
  const info = meta[CLIENT_INFO_KEY]
  if (info !== undefined && !(isObject(info) && typeof info["name"] === "string" && typeof info["version"] === "string"))
    return `${CLIENT_INFO_KEY} must be an object with a string name and version`
  const level = meta[LOG_LEVEL_KEY]
  if (level !== undefined && !(LOG_LEVELS as ReadonlyArray<unknown>).includes(level)) return `${LOG_LEVEL_KEY} must be one of ${LOG_LEVELS.join(", ")}`
  return null
}

const SENTINEL = /^=\?base64\?(.*)\?=$/s
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** An `Mcp-Name` value as it was meant: decoded from the `=?base64?…?=` sentinel when it is one; null when that is not valid. */
export const decodeHeaderValue = (value: string): string | null => {
  const sentinel = SENTINEL.exec(value)
  if (sentinel === null) return value
  const encoded = sentinel[1]!
  if (!BASE64.test(encoded)) return null
  const bytes = Buffer.from(encoded, "base64")
  const text = bytes.toString("utf8")
  return Buffer.from(text, "utf8").equals(bytes) ? text : null
}

const mismatch = (id: JsonRpcRequest["id"] | null, what: string): Era => refused(400, id, ModernErrorCodes.HeaderMismatch, `Header mismatch: ${what}`)

/** The standard headers of a modern request against its body: the first that is missing or disagrees, or null. */
const headersProblem = (request: JsonRpcRequest, headers: IncomingHttpHeaders, claimed: string): string | null => {
  const version = header(headers, "mcp-protocol-version")
  if (version === undefined) return `the MCP-Protocol-Version header is required (the body names ${claimed})`
  const method = header(headers, "mcp-method")
  if (method === undefined) return `the Mcp-Method header is required (the body names ${request.method})`
  const source = NAME_SOURCE[request.method]
  if (source === undefined) return null
  const body = request.params?.[source]
  const name = header(headers, "mcp-name")
  if (name === undefined) return typeof body === "string" ? `the Mcp-Name header is required for ${request.method}` : null
  const decoded = decodeHeaderValue(name)
  if (decoded === null) return "the Mcp-Name header is not valid =?base64?…?= encoding"
  return decoded === body ? null : `Mcp-Name header value ${JSON.stringify(decoded)} does not match body value ${JSON.stringify(body ?? null)}`
}

const classifyClaimed = (message: JsonRpcRequest | JsonRpcNotification, headers: IncomingHttpHeaders, versions: Versions): Era => {
  const id = isRequest(message) ? message.id : null
  const meta = metaOf(message)!
  const problem = envelopeProblem(meta)
  if (problem !== null) return refused(400, id, ErrorCodes.InvalidParams, `Invalid params: ${problem}`)
  const claimed = meta[PROTOCOL_VERSION_KEY] as string
  const version = header(headers, "mcp-protocol-version")
  if (version !== undefined && version !== claimed)
    return mismatch(id, `MCP-Protocol-Version header value ${JSON.stringify(version)} does not match body value ${JSON.stringify(claimed)}`)
  const method = header(headers, "mcp-method")
  if (method !== undefined && method !== message.method)
    return mismatch(id, `Mcp-Method header value ${JSON.stringify(method)} does not match body value ${JSON.stringify(message.method)}`)
  if (!versions.modern.includes(claimed)) {
    const supported = [...versions.modern, ...versions.legacy]
    return refused(400, id, ModernErrorCodes.UnsupportedProtocolVersion, "Unsupported protocol version", { supported, requested: claimed })
  }
  if (isRequest(message)) {
    const wrong = headersProblem(message, headers, claimed)
    if (wrong !== null) return mismatch(id, wrong)
  }
  const level = meta[LOG_LEVEL_KEY] as LogLevel | undefined
  const envelope: Envelope = { protocolVersion: claimed, clientCapabilities: meta[CLIENT_CAPABILITIES_KEY] as Record<string, unknown>, logLevel: level ?? null }
  return { era: "modern", message, envelope }
}

/**
 * The era of one HTTP request to a DTMA MCP endpoint, or why it is refused: the status and
 * JSON-RPC error the 2026-07-28 revision specifies (400 `-32602` for a missing or malformed
 * envelope, 400 `-32020` for headers missing or disagreeing with the body, 400 `-32022` for a
 * revision the DTMA does not serve, 405 for a modern GET or DELETE, 400 `-32600` for a batch
 * carrying a modern message). Pure: no session is looked up here.
 */
export const eraOf = (request: HttpRequestOf, versions: Versions): Era => {
  const { headers, body } = request
  const version = header(headers, "mcp-protocol-version")
  const modernHeader = version !== undefined && isModernVersion(version)
  if (request.httpMethod !== "POST") {
    // The modern era is POST-only (streamable-http.mdx, "Earlier Streamable HTTP Revisions").
    if (!modernHeader) return { era: "legacy" }
    return refused(405, null, REFUSED, "Method not allowed: a 2026-07-28 client sends every message as a POST (no GET stream, no session to DELETE)")
  }
  if (body === undefined) return { era: "legacy" }
  if (Array.isArray(body)) {
    const batch = body as ReadonlyArray<JsonRpcMessage>
    if (batch.some(claims)) return refused(400, null, ErrorCodes.InvalidRequest, "Invalid Request: a batch may not carry 2026-07-28 messages")
    return { era: "legacy" }
  }
  const message = body as JsonRpcMessage
  if (!("method" in message)) return { era: "legacy" }
  if (claims(message)) return classifyClaimed(message, headers, versions)
  const id = isRequest(message) ? message.id : null
  if (message.method === "initialize")
    return modernHeader ? mismatch(id, `an initialize request was sent with MCP-Protocol-Version ${version}`) : { era: "legacy" }
  if (!modernHeader) return { era: "legacy" }
  // A notification carries no envelope under 2026-07-28: its header says its era.
  if (!isRequest(message)) return { era: "modern", message, envelope: null }
  const meta = metaOf(message)
  const missing = meta === undefined ? "_meta" : PROTOCOL_VERSION_KEY
  return refused(400, id, ErrorCodes.InvalidParams, `Invalid params: the MCP-Protocol-Version header names ${version}, but the request lacks ${missing}`)
}
