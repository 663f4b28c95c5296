import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import type { McpChannel } from "../ports/McpConnector.ts"
import {
  ErrorCodes,
  isNotification,
  isRequest,
  isResponse,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from "./jsonrpc.ts"
import { McpConnectFailed, McpRequestFailed, McpServerBusy } from "./mcpErrors.ts"
import { JsonRpcIdRewriter } from "./JsonRpcIdRewriter.ts"

/** What the server said about itself in `initialize`. */
export interface ServerHello {
  readonly protocolVersion: string
  readonly capabilities: Readonly<Record<string, unknown>>
  readonly serverInfo: { readonly name: string; readonly version: string; readonly title?: string }
  readonly instructions: string | null
  /** The whole `initialize` result, as clients of the proxy get it. */
  readonly result: Readonly<Record<string, unknown>>
}

export interface UpstreamOptions {
  readonly name: string
  readonly clientInfo: { readonly name: string; readonly version: string }
  readonly protocolVersion: string
  readonly supportedProtocolVersions: ReadonlyArray<string>
  readonly initializeTimeoutMs: number
  /** Requests sent upstream at once; more wait. */
  readonly maxInFlight: number
  /** Requests allowed to wait for a slot; past that, callers get `McpServerBusy` at once. */
  readonly maxQueued: number
}

export interface RequestOptions {
  readonly timeoutMs: number
  readonly onProgress?: ((notification: JsonRpcNotification) => void) | undefined
  /**
   * A log message (`notifications/message`) the server sent about this request: one its own stream
   * carried (Streamable HTTP), or, over one shared stream (stdio, WebSocket, SSE), one sent while it
   * was the only request in flight and no cancelled request might still be running.
   */
  readonly onLogMessage?: ((notification: JsonRpcNotification) => void) | undefined
}

/** One initialized MCP connection that many client sessions share. */
export interface UpstreamSession {
  readonly hello: ServerHello
  /**
   * Sends `request` for `sessionId` and answers under the client's own id. A timeout answers a
   * JSON-RPC RequestTimeout error and cancels upstream; interrupting the effect cancels upstream.
   */
  forward(sessionId: string, request: JsonRpcRequest, options: RequestOptions): Effect.Effect<JsonRpcResponse, McpServerBusy | McpConnectFailed>
  /** The DTMA's own request; a JSON-RPC error becomes `McpRequestFailed`. */
  call(
    method: string,
    params: Readonly<Record<string, unknown>>,
    timeoutMs: number,
  ): Effect.Effect<Readonly<Record<string, unknown>>, McpRequestFailed | McpServerBusy | McpConnectFailed>
  /** Forwards a client notification (not a cancellation: interrupt the `forward` instead). */
  notify(notification: JsonRpcNotification): Effect.Effect<void, McpConnectFailed>
  /**
   * Server notifications that belong to no request: list_changed, resources/updated, and log
   * messages that cannot be attributed to a request whose sender takes them (`onLogMessage`).
   */
  subscribe(listener: (notification: JsonRpcNotification) => void): () => void
  /** Requests being answered or waiting for a slot. */
  readonly load: () => number
  readonly isOpen: () => boolean
  /** Completes with the reason once the connection has closed, for any reason. */
  readonly closed: Effect.Effect<string>
  /** Closes the connection; requests in flight fail with ConnectionClosed. Idempotent. */
  close(): Effect.Effect<void>
}

const errorResponse = (request: JsonRpcRequest, code: number, message: string): JsonRpcResponse => ({
  jsonrpc: "2.0",
  id: request.id,
  error: { code, message },
})

/** Admits `maxInFlight` requests at once and queues `maxQueued` more; the rest are refused at once. */
const makeGate = (options: UpstreamOptions) => {
  let active = 0
  let queued = 0
  const waiting: Array<() => void> = []
  const acquire = Effect.callback<void, McpServerBusy>((resume) => {
    if (active < options.maxInFlight) {
      active++
      return resume(Effect.void)
    }
    if (queued >= options.maxQueued) return resume(Effect.fail(new McpServerBusy({ name: options.name, inFlight: active + queued })))
    queued++
    let granted = false
    const grant = () => {
      granted = true
      queued--
      active++
      resume(Effect.void)
    }
    waiting.push(grant)
    return Effect.sync(() => {
      if (granted) return
      queued--
      waiting.splice(waiting.indexOf(grant), 1)
    })
  })
  const release = Effect.sync(() => {
    active--
    waiting.shift()?.()
  })
  return { acquire, release, load: () => active + queued }
}

/**
 * Performs the MCP handshake over `channel` and returns the shared session. The session lives in a
 * scope of its own, forked from the caller's: closing either closes the channel.
 */
export const openUpstreamSession = (channel: McpChannel, options: UpstreamOptions): Effect.Effect<UpstreamSession, McpConnectFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Scope.fork(yield* Effect.scope)
    const ids = new JsonRpcIdRewriter()
    const listeners = new Set<(n: JsonRpcNotification) => void>()
    const closed = yield* Deferred.make<string>()
    // Answers to the server's own requests, written by one fiber (the channel's callbacks cannot run effects).
    const answers = yield* Queue.unbounded<JsonRpcMessage>()
    const gate = makeGate(options)
    const isOpen = () => !Deferred.isDoneUnsafe(closed)

    channel.onMessage((message, context) => {
      if (isResponse(message)) ids.inbound(message)
      else if (isRequest(message)) {
        // The DTMA declares no client capabilities, so a server may only ping it.
        Queue.offerUnsafe(
          answers,
          message.method === "ping"
            ? { jsonrpc: "2.0", id: message.id, result: {} }
            : errorResponse(message, ErrorCodes.MethodNotFound, `the DTMA does not serve ${message.method}`),
        )
      } else if (isNotification(message)) {
        if (message.method === "notifications/progress" && ids.progress(message)) return
        const origin = { separated: channel.separatesRequests, relatedId: context.relatedRequestId }
        if (message.method === "notifications/message" && ids.logMessage(message, origin)) return
        for (const listener of listeners) listener(message)
      }
    })
    channel.onClose((reason) => {
      if (!Deferred.doneUnsafe(closed, Effect.succeed(reason))) return
      ids.failAll({ code: ErrorCodes.ConnectionClosed, message: `Connection closed: ${reason}` })
    })
    yield* Scope.addFinalizer(scope, channel.close())
    yield* Effect.forkIn(
      Effect.forever(
        Queue.take(answers).pipe(
          Effect.flatMap((m) => channel.send(m)),
          Effect.ignore,
        ),
      ),
      scope,
    )

    const exchange = (sessionId: string, request: JsonRpcRequest, { onProgress, onLogMessage }: RequestOptions) =>
      Effect.suspend(() => {
        if (!isOpen()) return Effect.fail(new McpConnectFailed({ reason: "closed", detail: `${options.name} is disconnected` }))
        const answer = Deferred.makeUnsafe<JsonRpcResponse>()
        const upstream = ids.outbound(sessionId, request, { onResponse: (r) => Deferred.doneUnsafe(answer, Effect.succeed(r)), onProgress, onLogMessage })
        const id = upstream.id as number
        return channel.send(upstream).pipe(
          Effect.tapError(() => Effect.sync(() => ids.abandon(id, "send failed"))),
          Effect.andThen(Deferred.await(answer)),
          Effect.onInterrupt(() => {
            const cancel = ids.abandon(id, "The client cancelled the request or it timed out")
            return cancel === null ? Effect.void : channel.send(cancel).pipe(Effect.ignore)
          }),
        )
      })

    const forward: UpstreamSession["forward"] = (sessionId, request, requestOptions) =>
      Effect.acquireUseRelease(
        gate.acquire,
        () =>
          exchange(sessionId, request, requestOptions).pipe(
            Effect.timeoutOrElse({
              duration: requestOptions.timeoutMs,
              orElse: () => Effect.succeed(errorResponse(request, ErrorCodes.RequestTimeout, `Request timed out after ${requestOptions.timeoutMs} ms`)),
            }),
          ),
        () => gate.release,
      )

    let ownId = 0
    const call: UpstreamSession["call"] = (method, params, timeoutMs) =>
      forward("dtma", { jsonrpc: "2.0", id: `dtma-${++ownId}`, method, params }, { timeoutMs }).pipe(
        Effect.flatMap((response) =>
          "error" in response ? Effect.fail(new McpRequestFailed({ method, error: response.error })) : Effect.succeed(response.result),
        ),
      )

    const session: Omit<UpstreamSession, "hello"> = {
      forward,
      call,
      notify: (notification) => channel.send(notification),
      subscribe: (listener) => {
        listeners.add(listener)
        return () => void listeners.delete(listener)
      },
      load: gate.load,
      isOpen,
      closed: Deferred.await(closed),
      close: () => Scope.close(scope, Exit.void),
    }

    const handshake = call(
      "initialize",
      { protocolVersion: options.protocolVersion, capabilities: {}, clientInfo: options.clientInfo },
      options.initializeTimeoutMs,
    ).pipe(
      Effect.catchTags({
        McpRequestFailed: (e) => Effect.fail(new McpConnectFailed({ reason: "protocol", detail: e.message })),
        McpServerBusy: (e) => Effect.fail(new McpConnectFailed({ reason: "protocol", detail: e.message })),
      }),
      Effect.flatMap((result) => {
        const version = String(result["protocolVersion"] ?? "")
        if (!options.supportedProtocolVersions.includes(version)) {
          return Effect.fail(
            new McpConnectFailed({ reason: "protocol", detail: `the server answered protocol version '${version}', which the DTMA does not support` }),
          )
        }
        const info = (result["serverInfo"] ?? {}) as ServerHello["serverInfo"]
        const hello: ServerHello = {
          protocolVersion: version,
          capabilities: (result["capabilities"] ?? {}) as ServerHello["capabilities"],
          serverInfo: { ...info, name: String(info.name ?? "unknown"), version: String(info.version ?? "unknown") },
          instructions: typeof result["instructions"] === "string" ? result["instructions"] : null,
          result,
        }
        return channel.send({ jsonrpc: "2.0", method: "notifications/initialized" }).pipe(Effect.as({ ...session, hello }))
      }),
    )
    return yield* handshake.pipe(
      Effect.flatMap((s) =>
        isOpen() ? Effect.succeed(s) : Effect.fail(new McpConnectFailed({ reason: "closed", detail: `${options.name} closed right after initialize` })),
      ),
      Effect.onError(() => Scope.close(scope, Exit.void)),
    )
  })
