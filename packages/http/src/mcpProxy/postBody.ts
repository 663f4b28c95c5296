import { isJsonContentType } from "@modelcontextprotocol/sdk/shared/mediaType.js"
import { isJSONRPCRequest, JSONRPCMessageSchema, SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage, type JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js"

const MAX_BATCH = 100

export interface PostedMessages {
  readonly messages: ReadonlyArray<JSONRPCMessage>
  readonly batch: boolean
}

/** JSON that is no JSON-RPC message (or batch of them): what is wrong, for an Invalid Request error. */
export interface InvalidPost {
  readonly invalid: string
}

const problemOf = (item: unknown): string => {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return "is not a JSON object"
  if ((item as Record<string, unknown>)["jsonrpc"] !== "2.0") return 'has no "jsonrpc": "2.0"'
  return "is not a JSON-RPC request, notification or response"
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
  const batch = Array.isArray(body)
  const raw: ReadonlyArray<unknown> = batch ? body : [body]
  if (raw.length === 0) return { invalid: "Invalid Request: the batch is empty" }
  if (raw.length > MAX_BATCH) return { invalid: `Invalid Request: a batch holds at most ${MAX_BATCH} messages` }
  const messages: Array<JSONRPCMessage> = []
  for (const [i, item] of raw.entries()) {
    const parsed = JSONRPCMessageSchema.safeParse(item)
    if (!parsed.success) return { invalid: `Invalid Request: ${batch ? `message ${i + 1} of the batch` : "the message"} ${problemOf(item)}` }
    messages.push(parsed.data)
  }
  return { messages, batch }
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
