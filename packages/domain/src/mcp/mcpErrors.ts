import * as Data from "effect/Data"
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

/** A server that did not become ready; it was rolled back. */
export class McpServerNotReady extends Data.TaggedError("McpServerNotReady")<{
  readonly name: string
  readonly detail: string
  /** The last lines the server wrote to stderr (secrets already masked by the caller). */
  readonly stderrTail: ReadonlyArray<string>
}> {
  override get message(): string {
    const tail = this.stderrTail.length === 0 ? "" : ` Last stderr lines: ${this.stderrTail.join(" | ")}`
    return `MCP server '${this.name}' did not become ready and was rolled back: ${this.detail}.${tail}`
  }
}

/** The server exists but cannot take calls now (stopped, restarting, crash-looping). */
export class McpServerUnavailable extends Data.TaggedError("McpServerUnavailable")<{
  readonly name: string
  readonly health: string
  readonly detail: string | null
}> {
  override get message(): string {
    return `MCP server '${this.name}' is ${this.health} and cannot take calls now${this.detail ? `: ${this.detail}` : ""}.`
  }
}

/** A `per_agent` server already runs its most instances: one more agent gets none until one goes idle. */
export class IsolatedInstanceLimit extends Data.TaggedError("IsolatedInstanceLimit")<{
  readonly name: string
  readonly limit: number
}> {
  override get message(): string {
    return (
      `MCP server '${this.name}' runs one instance per agent and already runs ${this.limit}, its most; ` +
      "no instance can be started for this agent until another agent's goes idle. Retry later."
    )
  }
}
