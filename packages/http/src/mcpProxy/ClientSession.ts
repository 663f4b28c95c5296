/* oxlint-disable unicorn/prefer-add-event-listener -- the SDK's Transport has callback properties, not events */
import { randomUUID } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { ErrorCodes, isNotification, isRequest, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest } from "@dtma/domain"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import type { Logger } from "../logger.ts"
import { jsonRpcError, PROXY_ERROR_TABLE, type ProxyFailure } from "./proxyErrorTable.ts"
import { PendingAnswer } from "./PendingAnswer.ts"
import { answerRequest } from "./answerRequest.ts"
import type { ServerHub } from "./ServerHub.ts"
import type { McpProxySettings } from "./settings.ts"

export interface ClientSessionDeps {
  readonly hub: ServerHub
  readonly settings: McpProxySettings
  readonly logger: Logger
  /** The transport gave the session its id (the client's `initialize` was accepted). */
  readonly onOpen: (session: ClientSession) => void
  /** Called once when the session ends. */
  readonly onEnd: (session: ClientSession, reason: string) => void
}

export type StartOutcome =
  | { readonly refused: ProxyFailure }
  /** `duplicates`: errors for requests whose id was in use by a request in flight (the SDK transport must not see them). */
  | { readonly started: ReadonlyArray<PendingAnswer>; readonly duplicates: ReadonlyArray<JsonRpcError> }

type JsonRpcError = ReturnType<typeof jsonRpcError>

/** What else a POST answered with one JSON body holds besides the requests started for it. */
export interface JsonAnswerOptions {
  /** The POST was a batch: answer with an array. */
  readonly batch: boolean
  /** Errors for the requests that were not started. */
  readonly refusals?: ReadonlyArray<JsonRpcError>
  /** Its notifications and responses, delivered before the answers are awaited. */
  readonly others?: ReadonlyArray<JsonRpcMessage>
}

const duplicateId = (id: JsonRpcId): JsonRpcError =>
  jsonRpcError(id, ErrorCodes.InvalidRequest, `Invalid Request: id ${JSON.stringify(id)} is already in use by a request in flight in this session`)

/**
 * One client of the proxied endpoint: an SDK Streamable HTTP transport whose messages the DTMA
 * answers itself (initialize, ping) or forwards to the shared upstream session of the server.
 */
export class ClientSession {
  readonly id = randomUUID()
  readonly name: string
  readonly #deps: ClientSessionDeps
  readonly #transport: StreamableHTTPServerTransport
  readonly #answers = new Map<JsonRpcId, PendingAnswer>()
  #exchanges = 0
  #open = false
  #ended = false
  /** Why the session ends once its requests in flight are answered; null while it serves. */
  #retiring: string | null = null
  #idle: NodeJS.Timeout | undefined

  constructor(deps: ClientSessionDeps) {
    this.name = deps.hub.name
    this.#deps = deps
    this.#transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => this.id,
      onsessioninitialized: () => {
        this.#open = true
        deps.hub.join(this)
        deps.onOpen(this)
      },
    })
    this.#transport.onmessage = (message) => this.#receive(message as JsonRpcMessage)
    this.#transport.onclose = () => this.end("closed by the client")
    this.#transport.onerror = (error) => deps.logger.debug({ server: this.name, error: error.message }, "MCP proxy transport refused a request")
  }

  get retiring(): boolean {
    return this.#retiring !== null
  }

  /**
   * Starts answering the requests of a POST before the transport sees it; refuses all or none. A
   * request whose id is in flight in the session (or earlier in the POST) is not started: it gets
   * an error in `duplicates`, and the request in flight goes on.
   */
  start(requests: ReadonlyArray<JsonRpcRequest>): StartOutcome {
    const started: Array<PendingAnswer> = []
    const duplicates: Array<JsonRpcError> = []
    for (const request of requests) {
      if (this.#answers.has(request.id)) {
        duplicates.push(duplicateId(request.id))
        continue
      }
      const outcome = this.#start(request)
      if ("refused" in outcome) {
        for (const answer of started) answer.cancel()
        return outcome
      }
      started.push(outcome.answer)
    }
    return { started, duplicates }
  }

  /** Serves one HTTP exchange (POST, GET or DELETE) through the SDK transport. */
  async serve(req: IncomingMessage, res: ServerResponse, body: unknown, started: ReadonlyArray<PendingAnswer>): Promise<void> {
    this.#exchanges++
    clearTimeout(this.#idle)
    res.once("close", () => {
      this.#exchanges--
      this.#armIdle()
    })
    try {
      await this.#transport.handleRequest(req, res, body)
    } finally {
      // The transport refused the POST: answers started for it will never be delivered.
      for (const answer of started) if (!answer.claimed) answer.cancel()
    }
  }

  /**
   * Answers a POST with its answers as one JSON body, without the SDK transport: one write instead of
   * an event stream, and no progress. For a lone request nothing else can follow (`loneRequest`), and
   * for a POST that repeats a request id (the transport keys requests by id: it would lose one):
   * `refusals` answer the repeats, its other messages are delivered here. 400 when nothing was
   * started; a bodiless 202 when every started request was cancelled first and nothing was refused.
   */
  async answerJson(res: ServerResponse, answers: ReadonlyArray<PendingAnswer>, posted: JsonAnswerOptions = { batch: false }): Promise<void> {
    this.#exchanges++
    clearTimeout(this.#idle)
    res.once("close", () => {
      this.#exchanges--
      this.#armIdle()
    })
    for (const message of posted.others ?? []) this.#receive(message)
    const responses = (await Promise.all(answers.map((a) => a.final()))).filter((r) => r !== null)
    if (res.destroyed || res.writableEnded) return
    const all = [...responses, ...(posted.refusals ?? [])]
    if (all.length === 0) return void res.writeHead(202).end()
    const json = JSON.stringify(posted.batch ? all : all[0])
    const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(json), "mcp-session-id": this.id }
    res.writeHead(answers.length === 0 ? 400 : 200, headers).end(json)
  }

  /** The client was heard from without an exchange reaching the transport (a refused POST). */
  touch(): void {
    this.#armIdle()
  }

  notify(notification: JsonRpcNotification): void {
    this.#transport.send(notification as JSONRPCMessage).catch(() => undefined)
  }

  /**
   * Ends the session once its requests in flight are answered (its server is gone or replaced): its
   * notification stream closes now, and the proxy routes no new request to it.
   */
  retire(reason: string): void {
    if (this.#ended || this.#retiring !== null) return
    this.#retiring = reason
    this.#transport.closeStandaloneSSEStream()
    if (this.#answers.size === 0) this.end(reason)
  }

  /** Ends the session: pending requests are cancelled upstream, its subscriptions dropped. */
  end(reason: string): void {
    if (this.#ended) return
    this.#ended = true
    clearTimeout(this.#idle)
    for (const answer of this.#answers.values()) answer.cancel()
    if (this.#open) this.#deps.hub.leave(this)
    void this.#transport.close()
    this.#deps.onEnd(this, reason)
  }

  #start(request: JsonRpcRequest): { readonly refused: ProxyFailure } | { readonly answer: PendingAnswer } {
    const answer = new PendingAnswer(request.id, () => {
      if (this.#answers.get(request.id) === answer) this.#answers.delete(request.id)
      if (this.#retiring !== null && this.#answers.size === 0) this.end(this.#retiring)
      this.#armIdle()
    })
    this.#answers.set(request.id, answer)
    const refused = answerRequest({ sessionId: this.id, request, answer, hub: this.#deps.hub, settings: this.#deps.settings })
    if (refused === null) return { answer }
    this.#answers.delete(request.id)
    return { refused }
  }

  #receive(message: JsonRpcMessage): void {
    if (isRequest(message)) {
      let answer = this.#answers.get(message.id)
      // Not started before the transport saw it (a POST the proxy did not read); never a repeated id.
      if (answer === undefined) {
        const outcome = this.#start(message)
        if ("refused" in outcome) {
          const row = PROXY_ERROR_TABLE[outcome.refused._tag]
          return this.#send(jsonRpcError(message.id, row.code, outcome.refused.message), message.id)
        }
        answer = outcome.answer
      }
      answer.claim((m) => this.#send(m, message.id))
    } else if (isNotification(message)) {
      if (message.method === "notifications/initialized") return
      if (message.method === "notifications/cancelled") {
        const id = message.params?.["requestId"]
        if (typeof id === "string" || typeof id === "number") this.#answers.get(id)?.cancel()
        return
      }
      const upstream = this.#deps.hub.upstream()
      if (Exit.isSuccess(upstream)) Effect.runFork(upstream.value.notify(message).pipe(Effect.ignore))
    }
    // Responses: the proxy sends clients no requests, so there is nothing to match them to.
  }

  #send(message: JsonRpcMessage | ReturnType<typeof jsonRpcError>, relatedRequestId: JsonRpcId): void {
    this.#transport.send(message as JSONRPCMessage, { relatedRequestId }).catch((error: unknown) => {
      this.#deps.logger.debug({ server: this.name, error: String(error) }, "MCP proxy could not deliver a message: the client's stream is gone")
    })
  }

  #armIdle(): void {
    if (!this.#open || this.#ended || this.#exchanges > 0 || this.#answers.size > 0) return
    clearTimeout(this.#idle)
    this.#idle = setTimeout(() => this.end("idle"), this.#deps.settings.idleTimeoutMs)
    this.#idle.unref()
  }
}
