import { isJsonContentType } from "@modelcontextprotocol/sdk/shared/mediaType.js"
import { isJSONRPCRequest, JSONRPCMessageSchema, SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage, type JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js"

const MAX_BATCH = 100

export interface PostedMessages {
  readonly messages: ReadonlyArray<JSONRPCMessage>
  readonly batch: boolean
}

/**
 * The messages of a POST the SDK transport will accept, or null when it will refuse it (it then
 * answers the error itself). The same checks as the transport, made first so that requests can be
 * started, and refused with an HTTP status, before the transport commits to a 200 stream.
 */
export const acceptedPost = (headers: Readonly<Record<string, string | Array<string> | undefined>>, body: unknown): PostedMessages | null => {
  const accept = String(headers["accept"] ?? "")
  if (!accept.includes("application/json") || !accept.includes("text/event-stream")) return null
  if (!String(headers["content-type"] ?? "").includes("json")) return null
  const version = headers["mcp-protocol-version"]
  if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(String(version))) return null
  const raw = Array.isArray(body) ? body : [body]
  if (raw.length === 0 || raw.length > MAX_BATCH) return null
  const messages: Array<JSONRPCMessage> = []
  for (const item of raw) {
    const parsed = JSONRPCMessageSchema.safeParse(item)
    if (!parsed.success) return null
    messages.push(parsed.data)
  }
  return { messages, batch: Array.isArray(body) }
}

/**
 * The request of an accepted POST the DTMA may answer with one JSON body (Streamable HTTP lets a
 * server answer a request with `application/json` instead of an event stream): a single request,
 * not `initialize`, asking for no progress, so that nothing but its answer can follow it. Else null.
 * The content type is checked as the SDK transport checks it (by media type), since this answer
 * bypasses the transport.
 */
export const loneRequest = (headers: Readonly<Record<string, string | Array<string> | undefined>>, posted: PostedMessages | null): JSONRPCRequest | null => {
  const only = posted !== null && !posted.batch && posted.messages.length === 1 ? posted.messages[0] : undefined
  if (only === undefined || !isJSONRPCRequest(only) || only.method === "initialize") return null
  const contentType = headers["content-type"]
  if (typeof contentType !== "string" || !isJsonContentType(contentType)) return null
  return only.params?._meta?.progressToken === undefined ? only : null
}
