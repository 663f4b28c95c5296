import type * as Effect from "effect/Effect"
import type { McpConnectFailed } from "../mcp/mcpErrors.ts"
import type { JsonRpcId, JsonRpcMessage } from "../mcp/jsonrpc.ts"
import type { McpTransport } from "../ManagedInstance.ts"
import { token, type Token } from "../Token.ts"

/** Where a network server's endpoint is published on the DTMA's own host. */
export interface McpEndpoint {
  readonly hostPort: number
  /** The endpoint's path inside the server, starting with `/`. */
  readonly path: string
}

/** Where an MCP server listens, as seen from the DTMA. */
export interface McpTarget {
  readonly transport: McpTransport
  readonly containerId: string
  /** For network transports: where the DTMA reaches it; null for stdio. */
  readonly endpoint: McpEndpoint | null
}

/** What the transport knows of a server message besides the message. */
export interface MessageContext {
  /**
   * The request whose own stream carried the message (Streamable HTTP: the event stream answering
   * that request's POST); absent when the message came on no request's stream, or the transport
   * cannot tell (`McpChannel.separatesRequests` is false).
   */
  readonly relatedRequestId?: JsonRpcId
}

/**
 * One raw JSON-RPC connection to a server. Messages pass unchanged, in order; the connector does
 * no MCP handshake of its own.
 */
export interface McpChannel {
  /**
   * Whether the transport carries each request's messages on a stream of its own (Streamable HTTP):
   * then a server notification or request sent about a request comes with `relatedRequestId`, and
   * one without it was sent about none. False where everything shares one stream (stdio, WebSocket, SSE).
   */
  readonly separatesRequests: boolean
  /** Sends one message; fails `McpConnectFailed` with reason `closed` once the channel is closed. */
  send(message: JsonRpcMessage): Effect.Effect<void, McpConnectFailed>
  /**
   * The one receiver of every message from the server, with what the transport knows of it; set
   * before the first `send`. Only notifications and server requests come with a `relatedRequestId`.
   */
  onMessage(handler: (message: JsonRpcMessage, context: MessageContext) => void): void
  /** Called once when the channel closes for any reason (server exit, network, `close`). */
  onClose(handler: (reason: string) => void): void
  /** Closes the channel; idempotent. For stdio it ends the attach stream, not the container's stdin. */
  close(): Effect.Effect<void>
}

/** Opens raw JSON-RPC channels to MCP servers in containers, over their own transport. */
export interface McpConnector {
  /**
   * Connects within `timeoutMs`, waiting for a network server to accept connections first.
   * Fails `McpConnectFailed` (reason `unreachable` or `timeout`) instead of hanging.
   */
  connect(target: McpTarget, options: { readonly timeoutMs: number }): Effect.Effect<McpChannel, McpConnectFailed>
}

export const McpConnector: Token<McpConnector> = token("dtma/McpConnector")
