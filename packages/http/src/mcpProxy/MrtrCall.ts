import * as Effect from "effect/Effect"
import {
  ErrorCodes,
  type CallerIdentity,
  type JsonRpcId,
  type JsonRpcNotification,
  type JsonRpcResponse,
  type ServerRequest,
  type ServerRequestAnswer,
} from "@dtma/domain"
import { NOTHING_TO_STOP, type Stop } from "./answerRequest.ts"
import { missingCapability } from "./ClientAsks.ts"
import { isObject } from "./isObject.ts"
import type { RequestBinding } from "./heldCallState.ts"
import type { Answering } from "./SessionReach.ts"
import type { ProxyTimers } from "./timers.ts"

/** The client request a bridged call answers now: the one that started it, or a retry that took it over. */
export interface Front {
  readonly id: JsonRpcId
  readonly caller: CallerIdentity
  /** What this request declared in its `_meta` (clientCapabilities): what the server may ask it. */
  readonly capabilities: Readonly<Record<string, unknown>>
  /** The request's one answer, a final one (stamped complete on the way out); null: interrupted. */
  readonly settle: (response: JsonRpcResponse | null, deniedFor?: string) => void
  /** The request's one answer: input is required (`resultType: "input_required"`, not stamped complete). */
  readonly inputRequired: (result: Readonly<Record<string, unknown>>) => void
  readonly progress: (notification: JsonRpcNotification) => void
  readonly logMessage: (notification: JsonRpcNotification) => void
}

/** Where a bridged call waits between its client's requests: the held-call table (`HeldCalls`). */
export interface Holder {
  /** Holds `call` until a retry takes it, or its lifetime ends; the sealed `requestState`, or why the table refuses it. */
  hold(call: MrtrCall, caller: CallerIdentity): { readonly requestState: string } | { readonly full: string }
  /** The call ended: out of the table, if it is there. */
  release(call: MrtrCall): void
}

/** A server request asked about the call, until the client's input answers it. */
interface Ask {
  readonly request: ServerRequest
  readonly answer: (answer: ServerRequestAnswer) => void
  /** Put to the client in an `input_required` answer already. */
  sent: boolean
}

/** Server requests that come within this long of the first are put to the client in one `input_required` answer. */
export const GATHER_MS = 20

/**
 * One 2026-07-28 client's `tools/call`, `prompts/get` or `resources/read` forwarded to a 2025-era
 * server, across the client's requests (MRTR, basic/patterns/mrtr.mdx). When the server asks the
 * client something, the upstream call keeps waiting and its server requests stay pending; the
 * client's request is answered `input_required` with them, and the call is held (`Holder`) until
 * the client's retry takes it over with its `inputResponses`, which answer the server. The server's
 * final result, or its next request, then answers the retry. Progress and log messages reach
 * whichever request is attached, and none while the call is held.
 */
export class MrtrCall {
  readonly binding: RequestBinding
  /** When it must be over, held or not (Unix ms): its forward's own timeout, less a grace for the server to end it. */
  readonly deadline: number
  readonly #holder: Holder
  readonly #timers: ProxyTimers
  readonly #asks = new Map<string, Ask>()
  #front: Front | null
  #stop: Stop = NOTHING_TO_STOP
  #keys = 0
  #gathering: (() => void) | null = null
  /** The server's answer when it came while the call was held: the retry gets it. */
  #answered: JsonRpcResponse | null = null
  /** Its state expired: no retry will take it; whatever the server answers now is dropped. */
  #expired = false
  #done = false

  constructor(options: {
    readonly binding: RequestBinding
    readonly front: Front
    readonly holder: Holder
    readonly timers: ProxyTimers
    readonly deadline: number
  }) {
    this.binding = options.binding
    this.deadline = options.deadline
    this.#front = options.front
    this.#holder = options.holder
    this.#timers = options.timers
  }

  /** The upstream call is under way: `stop` cancels it. */
  started(stop: Stop): void {
    this.#stop = stop
  }

  /**
   * `answering` with the server's answer, progress, log messages and requests going through the call
   * (`timeoutMs`: how long a server request may wait for the client's input).
   */
  answering(answering: Answering, timeoutMs: number): Answering {
    return {
      ...answering,
      settle: (response, deniedFor) => this.#settle(response, deniedFor),
      progress: (n) => this.#front?.progress(n),
      logMessage: (n) => this.#front?.logMessage(n),
      serverRequests: { timeoutMs, ask: (r) => this.#ask(r) },
    }
  }

  /** A retry took the held call over: its input answers what the server asked, and it gets what comes next. */
  resume(front: Front, inputResponses: Readonly<Record<string, unknown>>): Stop {
    this.#front = front
    if (this.#answered !== null) {
      this.#finish()
      front.settle({ ...this.#answered, id: front.id })
      return NOTHING_TO_STOP
    }
    for (const [key, ask] of this.#asks) {
      const result = inputResponses[key]
      if (!ask.sent || !isObject(result)) continue
      this.#asks.delete(key)
      ask.answer({ result })
    }
    // What the input left unanswered, or the server asked meanwhile, is asked again (mrtr.mdx, "Error Handling").
    if (this.#asks.size > 0) this.#gather()
    return () => this.cancel()
  }

  /** Cancels the call upstream (its lifetime ended, its agent was revoked, the client gave up): the server's requests end with an error. */
  cancel(): void {
    if (this.#done) return
    this.#finish()
    this.#stop()
  }

  /**
   * No retry came within the call's lifetime: the server's requests are answered with `error` (as a
   * 2025-era client's too slow answer is), for the server to end the call itself, and the call is
   * cancelled upstream if it has not within `graceMs`. Ended by the server, the call leaves nothing
   * running there: over one shared stream (stdio), a request cancelled but never answered keeps
   * the server's later requests from being attributed to any call.
   */
  expire(error: { readonly code: number; readonly message: string }, graceMs: number): void {
    if (this.#done || this.#expired) return
    this.#expired = true
    this.#holder.release(this)
    for (const [key, ask] of this.#asks) {
      this.#asks.delete(key)
      ask.answer({ error })
    }
    this.#timers.at(this.#timers.now() + graceMs, () => this.cancel())
  }

  #finish(): void {
    this.#done = true
    this.#gathering?.()
    this.#gathering = null
    this.#holder.release(this)
  }

  #settle(response: JsonRpcResponse | null, deniedFor?: string): void {
    if (this.#done) return
    const front = this.#front
    if (front === null) {
      // Held: the answer waits for the retry (until the call's lifetime ends).
      if (response === null || this.#expired) this.#finish()
      else this.#answered = response
      return
    }
    this.#finish()
    front.settle(response === null ? null : { ...response, id: front.id }, deniedFor)
  }

  #ask(request: ServerRequest): Effect.Effect<ServerRequestAnswer> {
    return Effect.callback<ServerRequestAnswer>((resume) => {
      if (this.#done) return resume(Effect.succeed({ error: { code: ErrorCodes.InvalidRequest, message: "the client's call has ended" } }))
      if (this.#expired)
        return resume(Effect.succeed({ error: { code: ErrorCodes.InvalidRequest, message: "the client's call is over: its input never came" } }))
      const key = `r${++this.#keys}`
      this.#asks.set(key, { request, sent: false, answer: (a) => resume(Effect.succeed(a)) })
      if (this.#front !== null) this.#gather()
      return Effect.sync(() => void this.#asks.delete(key))
    })
  }

  #gather(): void {
    if (this.#gathering !== null) return
    this.#gathering = this.#timers.at(this.#timers.now() + GATHER_MS, () => {
      this.#gathering = null
      this.#putToClient()
    })
  }

  /** Answers the attached request `input_required` with what the server asked that it can answer; the call is held. */
  #putToClient(): void {
    const front = this.#front
    if (front === null || this.#done) return
    for (const [key, ask] of this.#asks) {
      const missing = missingCapability(front.capabilities, ask.request, "in this request's clientCapabilities")
      if (missing === null) continue
      this.#asks.delete(key)
      ask.answer({ error: { code: ErrorCodes.MethodNotFound, message: missing } })
    }
    if (this.#asks.size === 0) return
    const held = this.#holder.hold(this, front.caller)
    this.#front = null
    if ("full" in held) {
      front.settle({ jsonrpc: "2.0", id: front.id, error: { code: ErrorCodes.InternalError, message: held.full, data: { state: "busy" } } })
      return this.cancel()
    }
    const inputRequests: Record<string, ServerRequest> = {}
    for (const [key, ask] of this.#asks) {
      ask.sent = true
      inputRequests[key] = ask.request.params === undefined ? { method: ask.request.method } : ask.request
    }
    front.inputRequired({ resultType: "input_required", inputRequests, requestState: held.requestState })
  }
}
