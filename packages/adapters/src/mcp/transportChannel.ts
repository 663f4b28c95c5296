/* oxlint-disable unicorn/prefer-add-event-listener -- the SDK's Transport has callback properties, not events */
import * as Effect from "effect/Effect"
import type { Transport, TransportSendOptions } from "@modelcontextprotocol/sdk/shared/transport.js"
import {
  McpConnectFailed,
  isRequest,
  isResponse,
  type ConnectProblem,
  type JsonRpcId,
  type JsonRpcMessage,
  type McpChannel,
  type MessageContext,
} from "@dtma/domain"
import { toDomainMessage, toSdkMessage } from "./jsonRpcMessages.ts"
import type { Unmarked } from "./requestStreams.ts"

/** How a failed `send` is reported, and whether the channel is done for. */
export interface SendFailure {
  readonly reason: ConnectProblem
  readonly detail: string
  /** The connection cannot carry more messages: the channel closes. */
  readonly fatal: boolean
}

/** What differs between transports: which errors are fatal, how to send, and how to end a session. */
export interface TransportChannelOptions {
  /**
   * Errors the transport reports out of band (bad lines, failed background streams). Not called once
   * the channel is closing or closed: what breaks then (aborted streams) is the close itself.
   */
  readonly onError?: (error: Error) => void
  /** Which reported errors end the connection; default none. */
  readonly isFatal?: (error: Error) => boolean
  /** Classifies a failed send; default: fatal and `unreachable`. */
  readonly sendFailure?: (error: unknown) => SendFailure
  /** Runs before the transport closes on `close()` (e.g. ending a server session); bounded by the caller. */
  readonly beforeClose?: () => Promise<void>
  /** The transport's options for sending `message`, if any. */
  readonly sendOptions?: (message: JsonRpcMessage) => TransportSendOptions | undefined
  /** Sees each message the transport delivers, before the receiver. */
  readonly saw?: (message: JsonRpcMessage) => void
  /** Sees each message the channel sends, before the transport does. */
  readonly sent?: (message: JsonRpcMessage) => void
  /**
   * For a transport with an event stream per request (`RequestStreams`): each message delivered
   * without the mark saying which request's stream carried it. The channel then separates requests.
   */
  readonly unmark?: (message: JsonRpcMessage) => Unmarked
}

const detailOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * An `McpChannel` over an SDK transport, wired before the transport starts. Messages that arrive
 * before `onMessage` are kept for it; `onClose` runs exactly once, even when set after the close.
 * The channel watches `initialize` pass through and hands the negotiated protocol version to the
 * transport (HTTP transports must send it as a header on every later request).
 */
export const channelOf = (transport: Transport, options: TransportChannelOptions = {}): McpChannel => {
  let receiver: ((message: JsonRpcMessage, context: MessageContext) => void) | null = null
  const early: Array<readonly [JsonRpcMessage, MessageContext]> = []
  let closeHandler: ((reason: string) => void) | null = null
  let closedBecause: string | null = null
  let closing: string | null = null
  const initializeIds = new Set<JsonRpcId>()

  const finish = (reason: string): void => {
    if (closedBecause !== null) return
    closedBecause = closing ?? reason
    closeHandler?.(closedBecause)
  }

  let shuttingDown: Promise<void> | null = null
  const shutDown = (reason: string): Promise<void> => {
    if (shuttingDown !== null) return shuttingDown
    if (closedBecause !== null) return Promise.resolve()
    closing = reason
    shuttingDown = (async () => {
      await options.beforeClose?.().catch(() => undefined)
      await transport.close().catch((error: unknown) => options.onError?.(error instanceof Error ? error : new Error(String(error))))
      finish(reason)
    })()
    return shuttingDown
  }

  transport.onmessage = (sdkMessage) => {
    const delivered = toDomainMessage(sdkMessage)
    const { message, relatedRequestId } = options.unmark?.(delivered) ?? { message: delivered }
    const context: MessageContext = relatedRequestId === undefined ? {} : { relatedRequestId }
    options.saw?.(message)
    if (isResponse(message) && initializeIds.delete(message.id ?? "")) {
      const version = "result" in message ? message.result["protocolVersion"] : undefined
      if (typeof version === "string") transport.setProtocolVersion?.(version)
    }
    if (receiver === null) early.push([message, context])
    else receiver(message, context)
  }
  transport.onclose = () => finish("the connection to the server closed")
  transport.onerror = (error) => {
    if (closing === null && closedBecause === null) options.onError?.(error)
    if (options.isFatal?.(error) === true) void shutDown(`the connection failed: ${error.message}`)
  }

  const classify = options.sendFailure ?? ((error: unknown): SendFailure => ({ reason: "unreachable", detail: detailOf(error), fatal: true }))

  return {
    separatesRequests: options.unmark !== undefined,
    send: (message) =>
      Effect.suspend(() => {
        if (closedBecause !== null || closing !== null) {
          return Effect.fail(new McpConnectFailed({ reason: "closed", detail: closedBecause ?? closing ?? "" }))
        }
        if (isRequest(message) && message.method === "initialize") initializeIds.add(message.id)
        options.sent?.(message)
        return Effect.tryPromise({
          try: () => transport.send(toSdkMessage(message), options.sendOptions?.(message)),
          catch: (error) => {
            const failure = classify(error)
            if (failure.fatal) void shutDown(`sending failed: ${failure.detail}`)
            return new McpConnectFailed({ reason: failure.reason, detail: failure.detail })
          },
        })
      }),
    onMessage: (handler) => {
      receiver = handler
      for (const [message, context] of early.splice(0)) handler(message, context)
    },
    onClose: (handler) => {
      closeHandler = handler
      if (closedBecause !== null) handler(closedBecause)
    },
    close: () => Effect.promise(() => shutDown("closed by the DTMA")),
  }
}
