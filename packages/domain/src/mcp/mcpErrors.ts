import { Data } from "effect"
import type { JsonRpcErrorObject } from "./jsonrpc.ts"

export type ConnectProblem = "unreachable" | "timeout" | "closed" | "protocol"

export class McpConnectFailed extends Data.TaggedError("McpConnectFailed")<{
  readonly reason: ConnectProblem
  readonly detail: string
}> {
  override get message(): string {
    return `MCP connection ${this.reason === "closed" ? "is closed" : `failed (${this.reason})`}: ${this.detail}`
  }
}

/** The server answered a request with a JSON-RPC error, or the request could not be answered. */
export class McpRequestFailed extends Data.TaggedError("McpRequestFailed")<{
  readonly method: string
  readonly error: JsonRpcErrorObject
}> {
  override get message(): string {
    return `${this.method} failed: ${this.error.message} (${this.error.code})`
  }
}

export class McpServerBusy extends Data.TaggedError("McpServerBusy")<{
  readonly name: string
  readonly inFlight: number
}> {
  override get message(): string {
    return `MCP server '${this.name}' is saturated (${this.inFlight} requests in flight); retry later.`
  }
}
