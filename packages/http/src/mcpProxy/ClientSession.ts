import { randomUUID } from "node:crypto"
import type { ServerResponse } from "node:http"
import type { Context as TraceContext, Tracer } from "@opentelemetry/api"
import {
  ErrorCodes,
  isRequest,
  isResponse,
  type CallerIdentity,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type Revocation,
} from "@dtma/domain"
import { EdgeErrorCodes } from "../server/mcpEndpoints.ts"
import { passesLevel, type LogLevel } from "./logLevels.ts"
import { callEndOf, type CallTally } from "./callTally.ts"
import { ClientAsks } from "./ClientAsks.ts"
import { bridgedAnswering } from "./bridgedAnswering.ts"
import { modernResponse, type ModernCall } from "./modernExchange.ts"
import { principalOf } from "./requestStateSeal.ts"
import { listenRoute, type ModernListen } from "./ModernListen.ts"
import { PostAnswer } from "./PostAnswer.ts"
import type { PostedMessages } from "./postedMessages.ts"
import { jsonRpcError, type ProxyFailure, type ProxyReply } from "./proxyErrorTable.ts"
import type { Authorized } from "./requestAccess.ts"
import { SessionAuthority } from "./SessionAuthority.ts"
import type { Answering, ReachMember, SessionReach } from "./SessionReach.ts"
import type { McpProxySettings } from "./settings.ts"
import { SECOND_STREAM, SSE_HEADERS, SSE_KEEPALIVE, SSE_KEEPALIVE_MS, sseEvent } from "./streamableHttp.ts"
import type { ProxyTimers } from "./timers.ts"
import { traceMcpRequest } from "./traceMcpRequest.ts"

export interface ClientSessionDeps {
  /** Where its requests go and whose notifications it hears: one server, or every server its caller's grants name. */
  readonly reach: SessionReach
  readonly settings: McpProxySettings
  /** Starts the span of each request (the API's no-op tracer when tracing is off). */
  readonly tracer: Tracer
  /** Who opens the session (it belongs to them), and what the opening request may reach. */
  readonly opener: Authorized
  readonly timers: ProxyTimers
  /** Called once when the session ends. */
  readonly onEnd: (session: ClientSession, reason: string) => void
  /**
   * The session is one 2026-07-28 request's (no `Mcp-Session-Id`, gone once its request ends): its
   * envelope and how its results are stamped.
   */
  readonly modern?: ModernCall | undefined
}

/**
 * How a POST was taken: refused before anything was sent (a failure of the server's, or a reply to
 * render for what the client got wrong), or answered on its response.
 */
export type PostOutcome = { readonly refused: ProxyFailure } | { readonly rejected: ProxyReply } | { readonly sent: Promise<void> | undefined }

/**
 * A request of the session under way: `cancel` stops it, answering nothing more, or — when its
 * caller's token was revoked or expired — a JSON-RPC error saying so, for the client to stop waiting.
 */
interface Call {
  cancel: (cut?: TokenCut) => void
}

/** Why a session's calls in flight are cut: the token that authorized them is no longer accepted. */
export type TokenCut = "revoked" | "expired"

const cutAnswer = (id: JsonRpcId, cut: TokenCut): JsonRpcResponse => ({
  jsonrpc: "2.0",
  id,
  error: {
    code: EdgeErrorCodes.Unauthorized,
    message: `Unauthorized: the access token ${cut === "revoked" ? "was revoked" : "expired"}; the request was cancelled`,
    data: { error: "invalid_token" },
  },
})

/** A POSTed response that answers no request the DTMA sent the session: refused with the whole POST (and audited so). */
const strayResponse = (id: JsonRpcId | null): ProxyReply => ({
  status: 400,
  headers: {},
  body: {
    jsonrpc: "2.0",
    id: null,
    error: {
      code: ErrorCodes.InvalidRequest,
      message: `Invalid Request: the response with id ${JSON.stringify(id)} answers no request the DTMA sent this session (it is over, or was never sent here)`,
      data: { error: "unexpected_response" },
    },
  },
})

const duplicateId = (id: JsonRpcId): JsonRpcResponse =>
  jsonRpcError(id, ErrorCodes.InvalidRequest, `Invalid Request: id ${JSON.stringify(id)} is already in use by a request in flight in this session`)

/** One POST's messages as the session takes them: who sent them, in which trace, and where their ends are counted. */
export interface PostContext {
  readonly authorized: Authorized
  /** The POST's own span: each request's span is its child, unless the request names its own parent. */
  readonly trace: TraceContext
  readonly tally: CallTally
}

const wantsProgress = (request: JsonRpcRequest): boolean => (request.params?.["_meta"] as { progressToken?: unknown } | undefined)?.progressToken !== undefined

/**
 * One client of an MCP endpoint (one `Mcp-Session-Id`): its requests in flight, keyed by the
 * client's ids, and its notification stream (GET). Its reach routes each request: one server's
 * (`hubReach`: the DTMA answers `initialize` and `ping` itself and forwards the rest to the server's
 * shared upstream session) or the agent endpoint's (`AgentEndpoint`), within what each request's
 * caller may reach. It belongs to whoever opened it (`SessionAuthority`).
 */
export class ClientSession implements ReachMember {
  readonly id = randomUUID()
  readonly name: string
  readonly #deps: ClientSessionDeps
  readonly #authority: SessionAuthority
  readonly #calls = new Map<JsonRpcId, Call>()
  /** The notification stream, while the client holds it open. */
  #stream: ServerResponse | null = null
  /** What the client declared it can do in its `initialize`: what servers may ask it. */
  #capabilities: Readonly<Record<string, unknown>> = {}
  /** What servers asked the client about its requests, until it answers. */
  readonly #asks = new ClientAsks()
  /** The least severe log message the client wants (its own `logging/setLevel`, for an agent); null: every one. */
  #logLevel: LogLevel | null = null
  /** The `subscriptions/listen` of a modern session, while open. */
  #listening: ModernListen | null = null
  #ended = false
  /** Why the session ends once its requests in flight are answered; null while it serves. */
  #retiring: string | null = null
  #idle: NodeJS.Timeout | undefined
  /** When the client was last heard from, or the session last stopped being busy (Unix ms). */
  #lastSeen = Date.now()

  constructor(deps: ClientSessionDeps) {
    this.name = deps.reach.name
    this.#deps = deps
    this.#authority = new SessionAuthority({ opener: deps.opener, timers: deps.timers, leewayMs: deps.settings.tokenLeewayMs, onExpired: () => this.#expire() })
  }

  /** Whether `caller` may use the session: its owner may, anyone else is told it does not exist. */
  admits(caller: CallerIdentity): boolean {
    return this.#authority.admits(caller)
  }

  /** Whether a revocation takes the session's authority away: then it must end at once. */
  revokedBy(revocation: Revocation): boolean {
    return this.#authority.revokedBy(revocation)
  }

  /** The caller of the session's last request, and what it could reach. */
  authorized(): Authorized {
    return this.#authority.current
  }

  /** The session is open: the server's notifications reach it from now on. */
  join(): void {
    this.#deps.reach.join(this)
  }

  get retiring(): boolean {
    return this.#retiring !== null
  }

  /** Whether the session is one 2026-07-28 request's: it has no id a client may name. */
  get modern(): boolean {
    return this.#deps.modern !== undefined
  }

  /**
   * Answers the messages of one POST on `res`. Its requests start first, all or none: a refusal
   * (the server is saturated or unavailable) is returned and nothing is written. A request whose id
   * is in flight in the session (or earlier in the POST) is answered with an Invalid Request error,
   * and the one in flight goes on. Then its notifications are delivered, and the answer opens: an
   * event stream when a request asked for progress (or is `initialize`), else one JSON body; a
   * bodiless 202 for a POST without requests. Each request taken on, repeats included, is counted
   * in the context's tally once it has ended.
   */
  post(res: ServerResponse, posted: PostedMessages, context: PostContext): PostOutcome {
    const { authorized } = context
    this.#touch()
    this.#authority.authorize(authorized)
    // Answers are taken only for what the DTMA asked this very session: another session's, or a late one, refuses the POST.
    const stray = posted.messages.find((m): m is JsonRpcResponse => isResponse(m) && !this.#asks.expects(m))
    if (stray !== undefined) return { rejected: strayResponse(stray.id) }
    const requests = posted.messages.filter(isRequest)
    if (requests.length === 0) {
      for (const message of posted.messages) this.#receive(message, authorized)
      res.writeHead(202).end()
      return { sent: undefined }
    }
    const { modern } = this.#deps
    const answer = new PostAnswer({ res, sessionId: modern === undefined ? this.id : null, batch: posted.batch, requests: requests.length })
    const started: Array<Call> = []
    let stream = false
    for (const [i, request] of requests.entries()) {
      if (this.#calls.has(request.id)) {
        const ended = context.tally.begin({ request, server: this.#deps.reach.server, sessionId: this.id, traceId: null })
        const refusal = duplicateId(request.id)
        ended(callEndOf(refusal, undefined, answer.settle(i, refusal)))
        continue
      }
      const call = this.#start(request, { answer, slot: i, authorized, trace: context.trace, tally: context.tally })
      if ("refused" in call) {
        for (const s of started) s.cancel()
        return call
      }
      started.push(call)
      answer.started()
      // A modern request's log messages, when it asks for them, come on its own answer: an event stream.
      stream ||=
        request.method === "initialize" ||
        wantsProgress(request) ||
        (modern !== undefined && (modern.envelope.logLevel !== null || request.method === "subscriptions/listen"))
    }
    if (requests.length < posted.messages.length) for (const message of posted.messages) if (!isRequest(message)) this.#receive(message, authorized)
    return { sent: answer.open(stream) }
  }

  /** Opens the session's notification stream on `res`; a second one while it is open is refused (409). */
  listen(res: ServerResponse, authorized: Authorized): ProxyReply | null {
    this.#touch()
    this.#authority.authorize(authorized)
    if (this.#stream !== null) return SECOND_STREAM
    res.writeHead(200, { ...SSE_HEADERS, "mcp-session-id": this.id })
    res.flushHeaders()
    this.#stream = res
    const keepAlive = setInterval(() => void (res.destroyed || res.write(SSE_KEEPALIVE)), SSE_KEEPALIVE_MS).unref()
    res.once("close", () => {
      clearInterval(keepAlive)
      if (this.#stream !== res) return
      this.#stream = null
      this.#quiet()
    })
    return null
  }

  /** A server notification, as an event of the notification stream; dropped while the client holds none open, or may not hear it. */
  notify(event: string, notification: JsonRpcNotification): void {
    if (!this.#deps.reach.mayReceive(notification, this.#authority.current)) return
    if (this.#listening !== null) this.#listening.deliver(notification)
    else this.#toStream(event)
  }

  #toStream(event: string): void {
    const stream = this.#stream
    if (stream !== null && !stream.destroyed) stream.write(event)
  }

  /**
   * A log message the server sent about one of the session's requests: on that request's event
   * stream when its answer is one (MCP: a server may send a request's notifications there), else on
   * the notification stream; dropped below the session's level, or while the client holds neither.
   */
  #logMessage(answer: PostAnswer, notification: JsonRpcNotification): void {
    const { modern } = this.#deps
    // A modern request hears log messages only when it asked, at its own level, on its own answer (logging.mdx, "Per-request log level").
    if (modern !== undefined)
      return void (modern.envelope.logLevel !== null && passesLevel(notification, modern.envelope.logLevel) && answer.notify(notification))
    if (passesLevel(notification, this.#logLevel) && !answer.notify(notification)) this.#toStream(sseEvent(notification))
  }

  /** The client was heard from: the idle timeout counts from now. */
  #touch(): void {
    this.#lastSeen = Date.now()
  }

  /**
   * Ends the session once its requests in flight are answered (its server is gone or replaced): its
   * notification stream closes now, and the proxy routes no new request to it.
   */
  retire(reason: string): void {
    if (this.#ended || this.#retiring !== null) return
    this.#retiring = reason
    this.#stream?.end()
    this.#listening?.close()
    if (this.#calls.size === 0) this.end(reason)
  }

  /**
   * Ends the session: requests in flight are cancelled upstream (their POSTs answered with nothing,
   * or, when a revocation `cut` them, with an error saying so), subscriptions dropped.
   */
  end(reason: string, cut?: TokenCut): void {
    if (this.#ended) return
    this.#ended = true
    // A listen ended by the DTMA (shutdown, say) ends gracefully: its response says so (subscriptions.mdx, "Graceful Closure").
    if (cut === undefined) this.#listening?.close()
    clearTimeout(this.#idle)
    this.#authority.stop()
    for (const call of this.#calls.values()) call.cancel(cut)
    this.#stream?.end()
    this.#deps.reach.leave(this)
    this.#deps.onEnd(this, reason)
  }

  /**
   * The token that last authorized the session expired: its requests in flight are cancelled (each
   * answered with an error saying so) and its notification stream closes. The session stays, for its
   * owner to go on with a newer token.
   */
  #expire(): void {
    for (const call of this.#calls.values()) call.cancel("expired")
    // Forgotten now, not when it has closed: a GET with a newer token may open the next one at once.
    const stream = this.#stream
    this.#stream = null
    stream?.end()
    this.#quiet()
  }

  #start(
    request: JsonRpcRequest,
    place: { answer: PostAnswer; slot: number; authorized: Authorized; trace: TraceContext; tally: CallTally },
  ): Call | { readonly refused: ProxyFailure } {
    const { answer, slot } = place
    const { reach, tracer, modern } = this.#deps
    const routed =
      modern !== undefined && request.method === "subscriptions/listen"
        ? listenRoute({
            request,
            authorized: place.authorized,
            member: this,
            reach,
            modern,
            answer,
            opened: (l) => void (this.#listening = l),
            upstream: { tally: place.tally, tracer, trace: place.trace },
          })
        : reach.route(request, place.authorized, this)
    // `traced.traceId` is the trace of this request, for its audit record.
    // A modern request has no session to name.
    const sessionId = modern === undefined ? this.id : null
    const traced = traceMcpRequest(tracer, { parent: place.trace, request: routed.request, server: routed.server, sessionId })
    const ended = place.tally.begin({ request: routed.request, server: routed.server, sessionId, traceId: traced.traceId ?? null })
    const call: Call = { cancel: () => settle(null) }
    const finish = (response: JsonRpcResponse | null, deniedFor?: string): void => {
      if (this.#calls.get(request.id) !== call) return
      traced.end(response)
      this.#calls.delete(request.id)
      ended(callEndOf(response, deniedFor, answer.settle(slot, response)))
      if (this.#calls.size > 0) return
      if (this.#retiring !== null) this.end(this.#retiring)
      else if (modern !== undefined) this.end("its request ended")
      else this.#quiet()
    }
    const settle = (answered: JsonRpcResponse | null, deniedFor?: string): void =>
      finish(modern === undefined || answered === null ? answered : modernResponse(request.method, answered, modern), deniedFor)
    this.#calls.set(request.id, call)
    if (request.method === "initialize") {
      const declared = request.params?.["capabilities"]
      this.#capabilities = typeof declared === "object" && declared !== null && !Array.isArray(declared) ? (declared as Record<string, unknown>) : {}
    }
    const answering: Answering = {
      sessionId: this.id,
      serverRequests: {
        timeoutMs: this.#deps.settings.serverRequestTimeoutMs,
        capabilities: this.#capabilities,
        ask: (r) => this.#asks.ask(answer, this.#capabilities, r),
      },
      progress: (n) => void answer.notify(n),
      logMessage: (n) => this.#logMessage(answer, n),
      setLogLevel: (level) => void (this.#logLevel = level),
      logLevel: () => this.#logLevel,
      settle,
      envelope: modern?.wire,
      stateOwner: principalOf(place.authorized.caller),
    }
    // A modern request's server requests go through the MRTR bridge (`input_required`), never on its answer's stream.
    const bridged =
      modern === undefined
        ? { answering, call: null }
        : bridgedAnswering({
            request,
            modern,
            endpoint: reach.name,
            server: routed.server,
            caller: place.authorized.caller,
            answering,
            finish,
            timers: this.#deps.timers,
            callTimeoutMs: this.#deps.settings.requestTimeoutMs,
          })
    const outcome = routed.answer(traced.request, bridged.answering)
    if (typeof outcome === "function") bridged.call?.started(outcome)
    if (typeof outcome !== "function") {
      traced.end(outcome)
      if (this.#calls.get(request.id) === call) this.#calls.delete(request.id)
      return { refused: outcome }
    }
    call.cancel = (cut) => {
      if (cut === undefined) settle(null)
      else settle(cutAnswer(request.id, cut), "invalid_token")
      outcome()
    }
    return call
  }

  #receive(message: JsonRpcMessage, authorized: Authorized): void {
    // Responses answer what servers asked (checked in `post`); nothing else is there to match them to.
    if (isResponse(message)) return void this.#asks.answer(message)
    if (!("method" in message) || message.method === "notifications/initialized") return
    if (message.method === "notifications/cancelled") {
      const id = message.params?.["requestId"]
      if (typeof id === "string" || typeof id === "number") this.#calls.get(id)?.cancel()
      return
    }
    this.#deps.reach.receive(message, authorized)
  }

  /** Nothing in flight and no stream open: the session is forgotten after the idle timeout, unless heard from. */
  #quiet(): void {
    this.#touch()
    if (this.#ended || this.#idle !== undefined || this.#calls.size > 0 || this.#stream !== null) return
    this.#idle = setTimeout(() => this.#checkIdle(), this.#deps.settings.idleTimeoutMs).unref()
  }

  #checkIdle(): void {
    this.#idle = undefined
    if (this.#ended || this.#calls.size > 0 || this.#stream !== null) return
    const quietFor = Date.now() - this.#lastSeen
    const timeout = this.#deps.settings.idleTimeoutMs
    if (quietFor >= timeout) return this.end("idle")
    this.#idle = setTimeout(() => this.#checkIdle(), timeout - quietFor).unref()
  }
}
