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
  type JsonRpcErrorObject,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from "./jsonrpc.ts"
import { McpConnectFailed, McpRequestFailed, McpServerBusy } from "./mcpErrors.ts"
import { JsonRpcIdRewriter } from "./JsonRpcIdRewriter.ts"
import { answeredWithInput } from "./inputBridge.ts"
import { isSubscriptionRequest, makeModernListens } from "./modernListens.ts"
import {
  envelopeDeclaring,
  hasEnvelope,
  isModernHello,
  LISTEN_ACKNOWLEDGED,
  REMOVED_NOTIFICATIONS,
  withEnvelope,
  withoutSubscriptionId,
} from "./modernUpstream.ts"
import { handshake } from "./upstreamHandshake.ts"

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
  /** How long a server that refused `initialize` has to answer the `server/discover` probe; default `initializeTimeoutMs`. */
  readonly probeTimeoutMs?: number
  /** Requests sent upstream at once; more wait. */
  readonly maxInFlight: number
  /** Requests allowed to wait for a slot; past that, callers get `McpServerBusy` at once. */
  readonly maxQueued: number
}

/**
 * The client capabilities the DTMA declares to every server: what it can relay to the client whose
 * request a server request is about (the union of what its clients may have; the connection is
 * opened before any of them). Not URL-mode elicitation (its completion notification is about no
 * request) nor `roots.listChanged` (each client has its own roots).
 */
export const RELAYED_CLIENT_CAPABILITIES: Readonly<Record<string, unknown>> = { sampling: {}, elicitation: { form: {} }, roots: {} }

/** A request a server sends its client (sampling, elicitation, roots), without the server's id. */
export interface ServerRequest {
  readonly method: string
  readonly params?: Readonly<Record<string, unknown>> | undefined
}

/** What goes back to the server: the client's result, or a JSON-RPC error saying why there is none. */
export type ServerRequestAnswer = { readonly result: Readonly<Record<string, unknown>> } | { readonly error: JsonRpcErrorObject }

/** Who answers the requests a server sends about a forwarded request. */
export interface ServerRequestRelay {
  /**
   * Asks the client of the forwarded request; its answer goes back to the server under the server's
   * id. Interrupted when the forwarded request ends, the server cancels its request, or time is up.
   */
  readonly ask: (request: ServerRequest) => Effect.Effect<ServerRequestAnswer>
  /** How long the client may take to answer; past that the server gets a RequestTimeout error. */
  readonly timeoutMs: number
  /**
   * What the client declared it can be asked (its `initialize` capabilities): a server that speaks
   * only 2026-07-28 is told so in the request's envelope, and may then ask (`answeredWithInput`).
   */
  readonly capabilities?: Readonly<Record<string, unknown>> | undefined
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
  /**
   * Answers the requests the server sends about this request (attributed as log messages are). Without
   * it, or when a server request cannot be attributed, the server gets a MethodNotFound error saying why.
   */
  readonly serverRequests?: ServerRequestRelay | undefined
  /**
   * The least severe log message the request's client wants (its `logging/setLevel`): a server that
   * speaks only 2026-07-28 is told it in the request's envelope, and sends none without it.
   */
  readonly logLevel?: string | null | undefined
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

/** A server request asked of a client, until it is answered. */
interface Ask {
  readonly request: JsonRpcRequest
  readonly relay: ServerRequestRelay
  /** Done once the forwarded request it is about has ended. */
  readonly ended: Deferred.Deferred<void>
}

const answerTo = (id: JsonRpcId, answer: ServerRequestAnswer): JsonRpcResponse =>
  "result" in answer ? { jsonrpc: "2.0", id, result: answer.result } : { jsonrpc: "2.0", id, error: answer.error }

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
 * Performs the MCP handshake over `channel` (`upstreamHandshake.ts`: `initialize`, or — for a server
 * that refuses it and answers `server/discover` — the 2026-07-28 wire, with the DTMA's envelope on what
 * has none and 2025-era answers for 2025-era requests) and returns the shared session. The session lives in a
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
    // Server requests handed to the client they are about, and, by the server's id, how to withdraw each while it is asked.
    const asks = yield* Queue.unbounded<Ask>()
    const asked = new Map<JsonRpcId, Deferred.Deferred<void>>()
    const gate = makeGate(options)
    const isOpen = () => !Deferred.isDoneUnsafe(closed)
    // The DTMA's envelope once the server turned out to speak 2026-07-28 only; null on the 2025-era wire.
    let envelope: Readonly<Record<string, unknown>> | null = null
    const send = (message: JsonRpcMessage) => channel.send(envelope === null ? message : withEnvelope(message, envelope))

    channel.onMessage((message, context) => {
      const origin = { separated: channel.separatesRequests, relatedId: context.relatedRequestId }
      if (isResponse(message)) ids.inbound(message)
      else if (isRequest(message)) {
        if (message.method === "ping") return Queue.offerUnsafe(answers, { jsonrpc: "2.0", id: message.id, result: {} })
        const unanswerable = ids.serverRequest(message, origin)
        if (unanswerable !== null)
          Queue.offerUnsafe(answers, errorResponse(message, ErrorCodes.MethodNotFound, `${message.method} was not relayed: ${unanswerable}`))
      } else if (isNotification(message)) {
        if (message.method === "notifications/progress" && ids.progress(message)) return
        if (message.method === "notifications/message" && ids.logMessage(message, origin)) return
        if (message.method === "notifications/cancelled" && withdraw(message)) return
        // The DTMA's own listen stream (a modern server's list changes): its acknowledgment is for it alone.
        if (message.method === LISTEN_ACKNOWLEDGED) return
        const delivered = withoutSubscriptionId(message)
        for (const listener of listeners) listener(delivered)
      }
    })

    /** The server cancels a request of its own that a client is being asked: the asking stops, nothing is answered. */
    const withdraw = (cancellation: JsonRpcNotification): boolean => {
      const id = cancellation.params?.["requestId"]
      const ask = typeof id === "string" || typeof id === "number" ? asked.get(id) : undefined
      return ask !== undefined && Deferred.doneUnsafe(ask, Effect.void)
    }

    /**
     * Asks the client and sends its answer to the server, under the server's id; or an error when
     * the client takes too long or its request ends first; nothing when the server withdrew it.
     */
    const relayAsk = ({ request, relay, ended }: Ask) =>
      Effect.suspend(() => {
        const withdrawn = Deferred.makeUnsafe<void>()
        asked.set(request.id, withdrawn)
        const { method, params } = request
        const failed = (code: number, message: string): ServerRequestAnswer => ({ error: { code, message } })
        return Effect.raceAll([
          relay.ask(params === undefined ? { method } : { method, params }).pipe(
            Effect.timeoutOrElse({
              duration: relay.timeoutMs,
              orElse: () => Effect.succeed(failed(ErrorCodes.RequestTimeout, `the client did not answer ${method} within ${relay.timeoutMs} ms`)),
            }),
          ),
          Deferred.await(ended).pipe(
            Effect.as(failed(ErrorCodes.InvalidRequest, `the client request ${method} was sent about ended before its client answered`)),
          ),
          Deferred.await(withdrawn).pipe(Effect.as(null)),
        ]).pipe(
          Effect.flatMap((answer) => (answer === null ? Effect.void : channel.send(answerTo(request.id, answer)).pipe(Effect.ignore))),
          Effect.ensuring(Effect.sync(() => asked.delete(request.id))),
        )
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
    yield* Effect.forkIn(Effect.forever(Queue.take(asks).pipe(Effect.flatMap((ask) => Effect.forkIn(relayAsk(ask), scope)))), scope)

    /** One request and its answer; `declared`, the envelope of a 2025-era client's request to a 2026-07-28 server. */
    const roundTrip = (
      sessionId: string,
      request: JsonRpcRequest,
      { onProgress, onLogMessage, serverRequests }: RequestOptions,
      declared: Readonly<Record<string, unknown>> | null,
    ) =>
      Effect.suspend(() => {
        if (!isOpen()) return Effect.fail(new McpConnectFailed({ reason: "closed", detail: `${options.name} is disconnected` }))
        const answer = Deferred.makeUnsafe<JsonRpcResponse>()
        const ended = Deferred.makeUnsafe<void>()
        const onServerRequest = serverRequests && ((r: JsonRpcRequest) => void Queue.offerUnsafe(asks, { request: r, relay: serverRequests, ended }))
        const upstream = ids.outbound(sessionId, request, {
          onResponse: (r) => Deferred.doneUnsafe(answer, Effect.succeed(r)),
          onProgress,
          onLogMessage,
          onServerRequest,
        })
        const id = upstream.id as number
        return send(declared === null ? upstream : withEnvelope(upstream, declared)).pipe(
          Effect.tapError(() => Effect.sync(() => ids.abandon(id, "send failed"))),
          Effect.andThen(Deferred.await(answer)),
          Effect.onInterrupt(() => {
            const cancel = ids.abandon(id, "The client cancelled the request or it timed out")
            return cancel === null ? Effect.void : send(cancel).pipe(Effect.ignore)
          }),
          Effect.ensuring(Effect.sync(() => Deferred.doneUnsafe(ended, Effect.void))),
        )
      })

    let ownId = 0
    /**
     * A modern server sends notifications only on `subscriptions/listen` streams: the DTMA's own
     * (`makeModernListens`), outside the concurrency gate, with no timeout, in the connection's
     * scope (they end with it, or when the server ends them).
     */
    const listens = makeModernListens({
      listen: (filter) =>
        roundTrip(
          "dtma",
          { jsonrpc: "2.0", id: `dtma-listen-${++ownId}`, method: "subscriptions/listen", params: { notifications: filter } },
          { timeoutMs: 0 },
          null,
        ).pipe(Effect.ignore),
      scope,
    })

    /**
     * A 2025-era request to a 2026-07-28 server goes with the DTMA's envelope, declaring what its
     * client can be asked; the server's questions are put to that client, and the answer comes back
     * translated (`answeredWithInput`); a resource subscription is a listen of the DTMA's. Any other
     * request makes one round trip.
     */
    const exchange = (sessionId: string, request: JsonRpcRequest, requestOptions: RequestOptions) => {
      // The revision has no resources/subscribe: whoever asks (a 2026-07-28 client's listen routes one too), a listen serves it.
      if (envelope !== null && isSubscriptionRequest(request.method)) return listens.subscription(request)
      if (envelope === null || hasEnvelope(request)) return roundTrip(sessionId, request, requestOptions, null)
      const declared = envelopeDeclaring(envelope, requestOptions.serverRequests?.capabilities ?? {}, requestOptions.logLevel ?? null)
      return answeredWithInput(request, requestOptions.serverRequests, (sent) => roundTrip(sessionId, sent, requestOptions, declared))
    }

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

    const call: UpstreamSession["call"] = (method, params, timeoutMs) =>
      forward("dtma", { jsonrpc: "2.0", id: `dtma-${++ownId}`, method, params }, { timeoutMs }).pipe(
        Effect.flatMap((response) =>
          "error" in response ? Effect.fail(new McpRequestFailed({ method, error: response.error })) : Effect.succeed(response.result),
        ),
      )

    const session: Omit<UpstreamSession, "hello"> = {
      forward,
      call,
      notify: (notification) => (envelope !== null && REMOVED_NOTIFICATIONS.has(notification.method) ? Effect.void : send(notification)),
      subscribe: (listener) => {
        listeners.add(listener)
        return () => void listeners.delete(listener)
      },
      load: gate.load,
      isOpen,
      closed: Deferred.await(closed),
      close: () => Scope.close(scope, Exit.void),
    }

    const opening = handshake(
      {
        call,
        send: (n) => channel.send(n),
        speakModern: (e) => void (envelope = e),
      },
      options,
    ).pipe(Effect.map((hello) => ({ ...session, hello })))
    return yield* opening.pipe(
      Effect.flatMap((s) =>
        isOpen() ? Effect.succeed(s) : Effect.fail(new McpConnectFailed({ reason: "closed", detail: `${options.name} closed right after initialize` })),
      ),
      Effect.tap((s) => (isModernHello(s.hello) ? listens.forChanges(s.hello.capabilities) : Effect.void)),
      Effect.onError(() => Scope.close(scope, Exit.void)),
    )
  })
