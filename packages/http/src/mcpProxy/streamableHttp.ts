import type { IncomingHttpHeaders } from "node:http"
import { isJsonContentType } from "@modelcontextprotocol/sdk/shared/mediaType.js"
import { ErrorCodes } from "@dtma/domain"
import { jsonRpcError, type ProxyReply } from "./proxyErrorTable.ts"

// MCP's Streamable HTTP transport (spec 2025-11-25), the server side, as the DTMA speaks it: the
// framing and the refusals the MCP SDK's server transport used, so that clients see no difference.

/** The head of an event stream, a POST's or the session's own (GET). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  "x-accel-buffering": "no",
}

/** One JSON-RPC message as one event: serialised once, written once. No event ids: the DTMA does not resume streams. */
export const sseEvent = (message: unknown): string => sseEventOfJson(JSON.stringify(message))

/** The event of a message serialised already. */
export const sseEventOfJson = (json: string): string => `event: message\ndata: ${json}\n\n`

/** A comment line, so that idle timeouts between client and DTMA do not cut a quiet stream. */
export const SSE_KEEPALIVE = ": keepalive\n\n"
export const SSE_KEEPALIVE_MS = 15_000

/** The code the SDK's transports answer a refused exchange with (a 405 among them). */
export const REFUSED = -32000
/** The code the SDK's transport used for an unknown session. */
const UNKNOWN_SESSION = -32001

const refusal = (status: number, code: number, message: string, headers: Readonly<Record<string, string>> = {}): ProxyReply => ({
  status,
  headers,
  body: jsonRpcError(null, code, message),
})

export const SESSION_REQUIRED = refusal(400, REFUSED, "Bad Request: Mcp-Session-Id header is required")
export const SESSION_NOT_FOUND = refusal(404, UNKNOWN_SESSION, "Session not found")
export const ALREADY_INITIALIZED = refusal(400, ErrorCodes.InvalidRequest, "Invalid Request: Server already initialized")
export const ONE_INITIALIZE = refusal(400, ErrorCodes.InvalidRequest, "Invalid Request: Only one initialization request is allowed")
export const SECOND_STREAM = refusal(409, REFUSED, "Conflict: Only one SSE stream is allowed per session")
export const METHOD_NOT_ALLOWED = refusal(405, REFUSED, "Method not allowed.", { allow: "GET, POST, DELETE" })
const NOT_ACCEPTABLE_POST = refusal(406, REFUSED, "Not Acceptable: Client must accept both application/json and text/event-stream")
const NOT_ACCEPTABLE_GET = refusal(406, REFUSED, "Not Acceptable: Client must accept text/event-stream")
const NOT_JSON = refusal(415, REFUSED, "Unsupported Media Type: Content-Type must be application/json")

/** A POST must accept both answers (one JSON body, an event stream) and carry JSON. */
export const postHeadersProblem = (headers: IncomingHttpHeaders): ProxyReply | null => {
  const accept = headers.accept ?? ""
  if (!accept.includes("application/json") || !accept.includes("text/event-stream")) return NOT_ACCEPTABLE_POST
  return isJsonContentType(headers["content-type"]) ? null : NOT_JSON
}

/** A GET opens an event stream: its client must accept one. */
export const getHeadersProblem = (headers: IncomingHttpHeaders): ProxyReply | null =>
  (headers.accept ?? "").includes("text/event-stream") ? null : NOT_ACCEPTABLE_GET

/** After `initialize`, an `MCP-Protocol-Version` header, when sent, must name a version the DTMA speaks. */
export const versionProblem = (headers: IncomingHttpHeaders, supported: ReadonlyArray<string>): ProxyReply | null => {
  const version = headers["mcp-protocol-version"]
  if (version === undefined || supported.includes(String(version))) return null
  return refusal(400, REFUSED, `Bad Request: Unsupported protocol version: ${version} (supported versions: ${supported.join(", ")})`)
}
