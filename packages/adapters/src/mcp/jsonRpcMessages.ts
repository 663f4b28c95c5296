import { JSONRPCMessageSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import type { JsonRpcMessage } from "@dtma/domain"

/** The SDK's message as the domain's: the one place SDK message types are read. */
export const toDomainMessage = (m: JSONRPCMessage): JsonRpcMessage => {
  if ("method" in m) {
    const params = m.params === undefined ? {} : { params: m.params }
    return "id" in m ? { jsonrpc: "2.0", id: m.id, method: m.method, ...params } : { jsonrpc: "2.0", method: m.method, ...params }
  }
  if ("result" in m) return { jsonrpc: "2.0", id: m.id, result: m.result }
  const { code, message, data } = m.error
  // JSON-RPC answers an unparsable request with a null id; the SDK models that as no id.
  return { jsonrpc: "2.0", id: m.id ?? null, error: data === undefined ? { code, message } : { code, message, data } }
}

/** The domain's message as the SDK's, for a transport to serialise. */
export const toSdkMessage = (m: JsonRpcMessage): JSONRPCMessage => {
  let wire: Record<string, unknown>
  if ("method" in m) {
    wire = { jsonrpc: "2.0", method: m.method }
    if ("id" in m) wire["id"] = m.id
    if (m.params !== undefined) wire["params"] = m.params
  } else if ("result" in m) {
    wire = { jsonrpc: "2.0", id: m.id, result: m.result }
  } else {
    wire = m.id === null ? { jsonrpc: "2.0", error: m.error } : { jsonrpc: "2.0", id: m.id, error: m.error }
  }
  // The domain's types say the same as the SDK's, except that `_meta` is left unchecked: transports
  // only serialise the message, and the server validates what it receives.
  return wire as JSONRPCMessage
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * A result answer the SDK's schema takes as it is: exactly `jsonrpc` "2.0", an `id` (a string or a
 * safe integer) and a `result` object with neither `_meta` (which the schema checks) nor an own
 * `__proto__` key (which its copy would not keep as one). Nearly every line a server writes.
 */
const isPlainResult = (value: unknown): value is JSONRPCMessage => {
  if (!isRecord(value) || value["jsonrpc"] !== "2.0") return false
  const { id, result } = value
  let keys = 0
  for (const _ in value) keys++
  return (
    keys === 3 &&
    (typeof id === "string" || Number.isSafeInteger(id)) &&
    isRecord(result) &&
    !Object.hasOwn(result, "_meta") &&
    !Object.hasOwn(result, "__proto__")
  )
}

/**
 * Parses one line of newline-delimited JSON-RPC as the SDK's `deserializeMessage` does, with one
 * `JSON.parse`: a plain result answer (`isPlainResult`) as it is, anything else through the SDK's
 * schema, also accepting an error answer with a null id (valid JSON-RPC, which the SDK's schema
 * refuses). Throws on a bad line: a SyntaxError when it is not JSON.
 */
export const parseMessageLine = (line: string): JSONRPCMessage => {
  const value: unknown = JSON.parse(line)
  if (isPlainResult(value)) return value
  try {
    return JSONRPCMessageSchema.parse(value)
  } catch (error) {
    if (!isRecord(value) || !("error" in value) || !("id" in value) || value["id"] !== null) throw error
    const { id: _null, ...rest } = value
    return JSONRPCMessageSchema.parse(rest)
  }
}
