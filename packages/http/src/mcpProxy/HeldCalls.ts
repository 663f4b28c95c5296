import { randomBytes } from "node:crypto"
import { ErrorCodes, type CallerIdentity, type JsonRpcResponse, type Revocation } from "@dtma/domain"
import { NOTHING_TO_STOP, type Stop } from "./answerRequest.ts"
import type { Front, Holder, MrtrCall } from "./MrtrCall.ts"
import { isObject } from "./isObject.ts"
import type { HeldCallSeal, RequestBinding } from "./heldCallState.ts"
import { principalOf } from "./requestStateSeal.ts"
import { revokes, type SessionTokens } from "./sessionOwner.ts"
import type { ProxyTimers } from "./timers.ts"

export interface HeldCallsOptions {
  readonly seal: HeldCallSeal
  readonly timers: ProxyTimers
  /** How long a held call waits for its client's retry; then it is cancelled upstream. */
  readonly ttlMs: number
  /** Held calls one principal (an agent, or the operator) may have at once. */
  readonly maxPerPrincipal: number
  /** Held calls of everyone together. */
  readonly maxTotal: number
}

/** How long a server has to end a call whose requests were answered with an error at its expiry, before it is cancelled upstream. */
export const EXPIRY_GRACE_MS = 1000

interface Entry {
  readonly call: MrtrCall
  readonly principal: string
  /** The agent's token that last took the call on (null: the operator's), for revocation. */
  readonly tokens: SessionTokens | null
  readonly disarm: () => void
}

/** A retry's refusal: -32602 whatever the reason (mrtr.mdx: the state is attacker input), the message saying which. */
const invalid = (front: Front, why: string, reason: string): JsonRpcResponse => ({
  jsonrpc: "2.0",
  id: front.id,
  error: { code: ErrorCodes.InvalidParams, message: `Invalid params: requestState is not valid: ${why}`, data: { reason } },
})

/** What a retry carries: the state echoed, and the client's input. */
export interface Retry {
  readonly requestState: unknown
  readonly inputResponses: unknown
}

/**
 * The MRTR bridge's held calls: each `MrtrCall` answered `input_required`, under a random handle that
 * only its sealed `requestState` names, until a retry takes it (once: a replayed state finds nothing)
 * or its lifetime ends (its server requests answered with an error, and it is cancelled upstream
 * unless the server ends it at once: `MrtrCall.expire`). Bounded per principal and in total; a revoked
 * agent's held calls are cancelled.
 */
export class HeldCalls implements Holder {
  readonly #options: HeldCallsOptions
  readonly #byHandle = new Map<string, Entry>()
  readonly #handles = new Map<MrtrCall, string>()
  readonly #perPrincipal = new Map<string, number>()

  constructor(options: HeldCallsOptions) {
    this.#options = options
  }

  get size(): number {
    return this.#byHandle.size
  }

  hold(call: MrtrCall, caller: CallerIdentity): { readonly requestState: string } | { readonly full: string } {
    const { maxPerPrincipal, maxTotal, ttlMs, timers, seal } = this.#options
    const principal = principalOf(caller)
    const mine = this.#perPrincipal.get(principal) ?? 0
    if (mine >= maxPerPrincipal)
      return { full: `the DTMA holds ${mine} calls of this caller waiting for its input, its most; the call was cancelled: answer or abandon the others first` }
    if (this.#byHandle.size >= maxTotal)
      return { full: `the DTMA holds ${this.#byHandle.size} calls waiting for their clients' input, its most; the call was cancelled: retry later` }
    const handle = randomBytes(16).toString("hex")
    // Never past the call's own timeout: expiring first, the call ends as the server ends it, not cancelled mid-way.
    const exp = Math.min(timers.now() + ttlMs, call.deadline)
    const disarm = timers.at(exp, () => {
      if (this.#byHandle.get(handle)?.call === call) this.#expire(call)
    })
    const tokens = caller.kind === "agent" ? { sub: caller.sub, issuedAt: caller.issuedAt, jtis: new Set(caller.jti === null ? [] : [caller.jti]) } : null
    this.#byHandle.set(handle, { call, principal, tokens, disarm })
    this.#handles.set(call, handle)
    this.#perPrincipal.set(principal, mine + 1)
    return { requestState: seal.seal(call.binding, { handle, exp }) }
  }

  release(call: MrtrCall): void {
    const handle = this.#handles.get(call)
    if (handle !== undefined) this.#take(handle)
  }

  /**
   * A retry on the request `binding` from `front`: the held call its state names goes on with the
   * retry's input, and the retry gets what the server answers next; or the retry is answered -32602
   * (a state forged, altered, another caller's or another request's, expired — its call ended —,
   * or used already), and nothing else happens. Returns how to stop what it resumed.
   */
  resume(retry: Retry, binding: RequestBinding, front: Front): Stop {
    const refuse = (why: string, reason: string): Stop => {
      front.settle(invalid(front, why, reason))
      return NOTHING_TO_STOP
    }
    const input = retry.inputResponses ?? {}
    if (!isObject(input)) return refuse("its inputResponses is not an object of results by key", "input_responses")
    if (typeof retry.requestState !== "string") return refuse("it is not a string", "invalid")
    const opened = this.#options.seal.open(retry.requestState, binding, this.#options.timers.now())
    if ("refused" in opened) {
      switch (opened.refused) {
        case "invalid":
          return refuse("the DTMA did not issue it to this caller, or it was altered", "invalid")
        case "mismatch":
          return refuse("it was issued for another request (its method, name or arguments differ)", "mismatch")
        case "expired":
          const late = this.#byHandle.get(opened.handle)?.call
          if (late !== undefined) this.#expire(late)
          return refuse(`it expired (a call waits ${this.#options.ttlMs} ms for its client's input); the call was ended`, "expired")
      }
    }
    const entry = this.#take(opened.ok.handle)
    if (entry === null) return refuse("it was used already, or its call has ended", "used")
    return entry.call.resume(front, input)
  }

  /** Cancels the held calls `revocation` takes the authority of (a Map iterates safely while its entries are deleted). */
  revoke(revocation: Revocation): void {
    for (const entry of this.#byHandle.values()) if (entry.tokens !== null && revokes(revocation, entry.tokens)) entry.call.cancel()
  }

  /** Cancels every held call (shutdown). */
  close(): void {
    for (const entry of this.#byHandle.values()) entry.call.cancel()
  }

  #expire(call: MrtrCall): void {
    const message = `the client did not answer within ${this.#options.ttlMs} ms (its call's requestState expired)`
    call.expire({ code: ErrorCodes.RequestTimeout, message }, EXPIRY_GRACE_MS)
  }

  #take(handle: string): Entry | null {
    const entry = this.#byHandle.get(handle)
    if (entry === undefined) return null
    this.#byHandle.delete(handle)
    this.#handles.delete(entry.call)
    entry.disarm()
    const left = (this.#perPrincipal.get(entry.principal) ?? 1) - 1
    if (left === 0) this.#perPrincipal.delete(entry.principal)
    else this.#perPrincipal.set(entry.principal, left)
    return entry
  }
}
