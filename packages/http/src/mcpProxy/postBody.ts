import { isJsonContentType } from "@modelcontextprotocol/sdk/shared/mediaType.js"
import { isJSONRPCRequest, SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage, type JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js"
import { readPosted, type InvalidPost } from "./postedMessages.ts"

export interface PostedMessages {
  readonly messages: ReadonlyArray<JSONRPCMessage>
  readonly batch: boolean
}

/**
 * The messages of a POST the SDK transport will accept; what is wrong with a body that is JSON but
 * not JSON-RPC (the proxy answers it: the transport would call it a parse error, or take an empty
 * batch); or null when the transport refuses the POST for its headers (it then answers itself).
 * The transport's checks, made first so that requests can be started, and refused with an HTTP
 * status, before the transport commits to a 200 stream. The content type is checked as the
 * transport checks it (by media type), since some answers bypass the transport.
 */
export const acceptedPost = (headers: Readonly<Record<string, string | Array<string> | undefined>>, body: unknown): PostedMessages | InvalidPost | null => {
  const accept = String(headers["accept"] ?? "")
  if (!accept.includes("application/json") || !accept.includes("text/event-stream")) return null
  const contentType = headers["content-type"]
  if (typeof contentType !== "string" || !isJsonContentType(contentType)) return null
  const version = headers["mcp-protocol-version"]
  if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(String(version))) return null
  const read = readPosted(body)
  return "invalid" in read ? read : { messages: read.messages as ReadonlyArray<JSONRPCMessage>, batch: read.batch }
}

/**
 * The request of an accepted POST the DTMA may answer with one JSON body (Streamable HTTP lets a
 * server answer a request with `application/json` instead of an event stream): a single request,
 * not `initialize`, asking for no progress, so that nothing but its answer can follow it. Else null.
 */
export const loneRequest = (posted: PostedMessages | InvalidPost | null): JSONRPCRequest | null => {
  const only = posted !== null && "messages" in posted && !posted.batch && posted.messages.length === 1 ? posted.messages[0] : undefined
  if (only === undefined || !isJSONRPCRequest(only) || only.method === "initialize") return null
  return only.params?._meta?.progressToken === undefined ? only : null
}
