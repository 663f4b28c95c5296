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
