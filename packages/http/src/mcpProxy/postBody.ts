import { JSONRPCMessageSchema, SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"

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
