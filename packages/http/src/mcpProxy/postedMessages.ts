import { isJsonRpcMessage, type JsonRpcMessage } from "@dtma/domain"

/** Messages one POST may carry, as the MCP SDK's server transport bounds a batch. */
export const MAX_BATCH = 100

/** The JSON-RPC messages of a POST body, each checked once, in the order posted. */
export interface PostedMessages {
  readonly messages: ReadonlyArray<JsonRpcMessage>
  /** The body was an array: requests are answered with an array too. */
  readonly batch: boolean
}

/** A body that is JSON but no JSON-RPC message (or batch of them): what is wrong, for an Invalid Request error. */
export interface InvalidPost {
  readonly invalid: string
}

const problemOf = (item: unknown): string => {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return "is not a JSON object"
  if ((item as Record<string, unknown>)["jsonrpc"] !== "2.0") return 'has no "jsonrpc": "2.0"'
  return "is not a JSON-RPC request, notification or response"
}

/**
 * Reads the body the JSON parser made of a POST: its JSON-RPC messages, each the parsed object
 * itself (no copy), or what is wrong with the first one that is not a message.
 */
export const readPosted = (body: unknown): PostedMessages | InvalidPost => {
  if (!Array.isArray(body)) {
    return isJsonRpcMessage(body) ? { messages: [body], batch: false } : { invalid: `Invalid Request: the message ${problemOf(body)}` }
  }
  if (body.length === 0) return { invalid: "Invalid Request: the batch is empty" }
  if (body.length > MAX_BATCH) return { invalid: `Invalid Request: a batch holds at most ${MAX_BATCH} messages` }
  for (const [i, item] of body.entries()) {
    if (!isJsonRpcMessage(item)) return { invalid: `Invalid Request: message ${i + 1} of the batch ${problemOf(item)}` }
  }
  return { messages: body as ReadonlyArray<JsonRpcMessage>, batch: true }
}
