import type { ServerResponse } from "node:http"
import type { JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from "@dtma/domain"
import { byteLengthOf, jsonChunksOf, type JsonChunks } from "./serialisedAnswers.ts"
import { SSE_HEADERS, SSE_KEEPALIVE, SSE_KEEPALIVE_MS, sseEvent } from "./streamableHttp.ts"

export interface PostAnswerOptions {
  readonly res: ServerResponse
  /** Named in each head; null for a 2026-07-28 request, which has no session. */
  readonly sessionId: string | null
  /** The POST was a batch: one JSON body answers with an array. */
  readonly batch: boolean
  /** The requests it carried, each with a slot for its answer, in the order posted. */
  readonly requests: number
}

/** A slot: pending, an answer (or refusal) serialised, or nothing (the request was cancelled). */
type Slot = JsonChunks | null | undefined

/** An answer as one event of a stream. */
const eventOf = (json: JsonChunks): JsonChunks => ["event: message\ndata: ", ...json, "\n\n"]

/**
 * Writes `chunks` on `res` (and ends it when `end`): text alone as one string, as before; with bytes
 * among them (an answer encoded once, `serialisedAnswers`), each in turn, corked into one write.
 */
const writeChunks = (res: ServerResponse, chunks: JsonChunks, end: boolean): void => {
  if (chunks.every((c) => typeof c === "string")) {
    const text = chunks.join("")
    if (end) res.end(text)
    else res.write(text)
    return
  }
  res.cork()
  for (const chunk of chunks) res.write(chunk)
  if (end) res.end()
  res.uncork()
}

/**
 * The HTTP answer to the requests of one POST. Answers fill their slots as they come; `open` picks
 * the form: an event stream (head now, each progress notification and answer one event as it comes,
 * closed after the last answer) or one JSON body (written once, when every request is settled).
 * Nothing is written before `open`, so a POST refused meanwhile still gets its own status.
 */
export class PostAnswer {
  readonly #options: PostAnswerOptions
  readonly #slots: Array<Slot>
  #pending: number
  /** Requests that reached the server or the DTMA (not refused as repeats). */
  #started = 0
  #mode: "closed" | "stream" | "json" = "closed"
  #keepAlive: NodeJS.Timeout | undefined
  #written: (() => void) | undefined

  constructor(options: PostAnswerOptions) {
    this.#options = options
    this.#slots = Array.from({ length: options.requests })
    this.#pending = options.requests
  }

  /** One more of its requests is under way (not refused as a repeat): the POST is not only refusals. */
  started(): void {
    this.#started++
  }

  /**
   * Fills slot `i` with its answer, a refusal, or nothing when the request was cancelled; once.
   * Returns the bytes of the answer as it is written (serialised here, once, unless it was already: `serialisedAnswers`).
   */
  settle(i: number, answer: JsonRpcResponse | null): number {
    if (this.#slots[i] !== undefined) return 0
    const json = answer === null ? null : jsonChunksOf(answer)
    this.#slots[i] = json
    this.#pending--
    if (this.#mode === "stream" && json !== null) this.#write(eventOf(json))
    if (this.#pending === 0 && this.#mode !== "closed") this.#finish()
    return json === null ? 0 : byteLengthOf(json)
  }

  /**
   * A notification about one of its requests (its progress, its log messages): an event of the
   * stream. False when the answer is no stream (one JSON body has no room for it).
   */
  notify(notification: JsonRpcNotification): boolean {
    if (this.#mode !== "stream") return false
    this.#write(sseEvent(notification))
    return true
  }

  /**
   * A request the DTMA sends the client about one of its requests (a server's sampling, elicitation,
   * roots), or its cancellation: an event of the stream. An answer still to be one JSON body becomes
   * an event stream for it, while nothing is written; false once the answer is done.
   */
  send(message: JsonRpcRequest | JsonRpcNotification): boolean {
    const { res } = this.#options
    if (this.#mode === "json" && this.#pending > 0 && !res.headersSent) this.#stream()
    if (this.#mode !== "stream" || res.writableEnded || res.destroyed) return false
    res.write(sseEvent(message))
    return true
  }

  /**
   * Starts answering: an event stream when something besides the answers may come (`stream`), else
   * one JSON body. Resolves once the head is written (a stream) or the whole body (JSON).
   */
  open(stream: boolean): Promise<void> | undefined {
    const { res } = this.#options
    if (stream && this.#started > 0) {
      // Answered already (initialize, ping): head, events and end in one go.
      if (this.#pending === 0) {
        this.#mode = "stream"
        res.writeHead(200, this.#head(SSE_HEADERS))
        return void writeChunks(res, this.#settledEvents(), true)
      }
      return void this.#stream()
    }
    this.#mode = "json"
    if (this.#pending === 0) return void this.#finish()
    return new Promise((resolve) => (this.#written = resolve))
  }

  #head(headers: Readonly<Record<string, string | number>>): Readonly<Record<string, string | number>> {
    const { sessionId } = this.#options
    return sessionId === null ? headers : { ...headers, "mcp-session-id": sessionId }
  }

  #settledEvents(): JsonChunks {
    return this.#slots.filter((s) => s != null).flatMap(eventOf)
  }

  /** Opens the event stream (the head and what is answered already), kept alive until the last answer. */
  #stream(): void {
    const { res } = this.#options
    this.#mode = "stream"
    res.writeHead(200, this.#head(SSE_HEADERS))
    const settled = this.#settledEvents()
    if (settled.length === 0) res.flushHeaders()
    else writeChunks(res, settled, false)
    this.#keepAlive = setInterval(() => this.#write(SSE_KEEPALIVE), SSE_KEEPALIVE_MS).unref()
    // A JSON answer awaited until written: its head is written now.
    this.#written?.()
  }

  #write(chunks: string | JsonChunks): void {
    const { res } = this.#options
    if (res.writableEnded || res.destroyed) return
    if (typeof chunks === "string") res.write(chunks)
    else writeChunks(res, chunks, false)
  }

  #finish(): void {
    const { res, batch } = this.#options
    clearInterval(this.#keepAlive)
    if (this.#mode === "stream") {
      if (!res.writableEnded) res.end()
      return
    }
    if (!res.writableEnded && !res.destroyed) {
      const answers = this.#slots.filter((s) => s != null)
      // Every request was cancelled before it was answered: nothing to say.
      if (answers.length === 0) res.writeHead(202).end()
      else {
        const json = batch ? ["[", ...answers.flatMap((a, i) => (i === 0 ? a : [",", ...a])), "]"] : (answers[0] as JsonChunks)
        const headers = this.#head({ "content-type": "application/json", "content-length": byteLengthOf(json) })
        res.writeHead(this.#started === 0 ? 400 : 200, headers)
        writeChunks(res, json, true)
      }
    }
    this.#written?.()
  }
}
