/** JSON-RPC 2.0 as MCP uses it; the domain's own types, so no SDK type crosses a port. */
export type JsonRpcId = string | number

export interface JsonRpcRequest {
  readonly jsonrpc: "2.0"
  readonly id: JsonRpcId
  readonly method: string
  readonly params?: Readonly<Record<string, unknown>> | undefined
}

export interface JsonRpcNotification {
  readonly jsonrpc: "2.0"
  readonly method: string
  readonly params?: Readonly<Record<string, unknown>> | undefined
}

export interface JsonRpcSuccess {
  readonly jsonrpc: "2.0"
  readonly id: JsonRpcId
  readonly result: Readonly<Record<string, unknown>>
}

export interface JsonRpcErrorObject {
  readonly code: number
  readonly message: string
  readonly data?: unknown
}

export interface JsonRpcFailure {
  readonly jsonrpc: "2.0"
  readonly id: JsonRpcId | null
  readonly error: JsonRpcErrorObject
}

export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse

export const isRequest = (m: JsonRpcMessage): m is JsonRpcRequest => "method" in m && "id" in m && m.id !== undefined
export const isNotification = (m: JsonRpcMessage): m is JsonRpcNotification => "method" in m && !("id" in m && m.id !== undefined)
export const isResponse = (m: JsonRpcMessage): m is JsonRpcResponse => !("method" in m) && ("result" in m || "error" in m)

const isObject = (value: unknown): value is Readonly<Record<string, unknown>> => typeof value === "object" && value !== null && !Array.isArray(value)
const isId = (value: unknown): value is JsonRpcId => typeof value === "string" || Number.isSafeInteger(value)
const REQUEST_KEYS = new Set(["jsonrpc", "id", "method", "params"])
const RESPONSE_KEYS = new Set(["jsonrpc", "id", "result", "error"])
const RELATED_TASK = "io.modelcontextprotocol/related-task"

const onlyKeys = (value: Readonly<Record<string, unknown>>, allowed: ReadonlySet<string>): boolean => {
  for (const key in value) if (!allowed.has(key)) return false
  return true
}

/**
 * An object whose `_meta`, if any, is an object with a string or integer `progressToken` and a
 * related task with a string `taskId`, if any: MCP's `params` and `result`.
 */
const isMetaHolder = (value: unknown): boolean => {
  if (!isObject(value)) return false
  const meta = value["_meta"]
  if (meta === undefined) return true
  if (!isObject(meta) || (meta["progressToken"] !== undefined && !isId(meta["progressToken"]))) return false
  const task = meta[RELATED_TASK]
  return task === undefined || (isObject(task) && typeof task["taskId"] === "string")
}

const isErrorObject = (error: unknown): boolean => isObject(error) && Number.isSafeInteger(error["code"]) && typeof error["message"] === "string"

/**
 * Whether `value` is one JSON-RPC 2.0 message as MCP shapes it: a request, a notification, a result
 * or an error, with no other members; ids are strings or integers. A check, not a copy; it accepts
 * what the MCP SDK's `JSONRPCMessageSchema` accepts.
 */
export const isJsonRpcMessage = (value: unknown): value is JsonRpcMessage => {
  if (!isObject(value) || value["jsonrpc"] !== "2.0") return false
  if ("method" in value) {
    return (
      typeof value["method"] === "string" &&
      (!("id" in value) || isId(value["id"])) &&
      (value["params"] === undefined || isMetaHolder(value["params"])) &&
      onlyKeys(value, REQUEST_KEYS)
    )
  }
  if (!onlyKeys(value, RESPONSE_KEYS) || "result" in value === "error" in value) return false
  if ("result" in value) return isId(value["id"]) && isMetaHolder(value["result"])
  return (value["id"] === undefined || isId(value["id"])) && isErrorObject(value["error"])
}

/** JSON-RPC and MCP error codes the DTMA produces. */
export const ErrorCodes = {
  ConnectionClosed: -32000,
  RequestTimeout: -32001,
  /** The server is saturated: too many requests in flight. */
  ServerBusy: -32002,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
} as const
