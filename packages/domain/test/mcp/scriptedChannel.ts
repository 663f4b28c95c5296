import { Effect } from "effect"
import {
  McpConnectFailed,
  type JsonRpcMessage,
  type UpstreamOptions,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type McpChannel,
  type MessageContext,
} from "../../src/index.ts"

export type Reply = Readonly<Record<string, unknown>> | { readonly error: { code: number; message: string } } | "never"

export interface ScriptedChannel extends McpChannel {
  /** Everything the DTMA sent, in order. */
  readonly received: Array<JsonRpcMessage>
  /** The server sends `message` (asynchronously, as a real connection would), on the stream `context` says. */
  emit(message: JsonRpcMessage, context?: MessageContext): void
  /** The connection drops. */
  drop(reason: string): void
}

/**
 * A server played by a script: each request's reply is computed (or withheld) by `answer`. Over
 * `separatesRequests` it plays a transport with a stream per request (Streamable HTTP).
 */
export const scriptedChannel = (
  answer: (request: JsonRpcRequest, channel: ScriptedChannel) => Reply,
  options: { readonly separatesRequests?: boolean } = {},
): ScriptedChannel => {
  let onMessage: (m: JsonRpcMessage, context: MessageContext) => void = () => undefined
  let onClose: (reason: string) => void = () => undefined
  let closed = false
  const received: Array<JsonRpcMessage> = []
  const channel: ScriptedChannel = {
    separatesRequests: options.separatesRequests ?? false,
    received,
    emit: (m: JsonRpcMessage, context: MessageContext = {}) => queueMicrotask(() => onMessage(m, context)),
    drop: (reason: string) => {
      if (closed) return
      closed = true
      onClose(reason)
    },
    send: (message: JsonRpcMessage) =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(new McpConnectFailed({ reason: "closed", detail: "closed" }))
        received.push(message)
        if ("method" in message && "id" in message) {
          const reply = answer(message as JsonRpcRequest, channel)
          if (reply !== "never")
            channel.emit(
              "error" in reply
                ? { jsonrpc: "2.0", id: message.id, error: reply.error as { code: number; message: string } }
                : { jsonrpc: "2.0", id: message.id, result: reply },
            )
        }
        return Effect.void
      }),
    onMessage: (h: (m: JsonRpcMessage, context: MessageContext) => void) => void (onMessage = h),
    onClose: (h: (r: string) => void) => void (onClose = h),
    close: () => Effect.sync(() => channel.drop("closed by the DTMA")),
  }
  return channel
}

export const initializeResult = {
  protocolVersion: "2025-11-25",
  capabilities: { tools: { listChanged: true } },
  serverInfo: { name: "scripted", version: "1.0.0" },
}

export const notification = (method: string, params: Record<string, unknown> = {}): JsonRpcNotification => ({ jsonrpc: "2.0", method, params })

/** The DTMA side of an upstream session in these tests: a 2025-11-25 client, two calls in flight, one queued. */
export const upstreamOptions: UpstreamOptions = {
  name: "srv",
  clientInfo: { name: "dtma", version: "0.1.0" },
  protocolVersion: "2025-11-25",
  supportedProtocolVersions: ["2025-11-25", "2025-06-18"],
  initializeTimeoutMs: 1000,
  maxInFlight: 2,
  maxQueued: 1,
}
