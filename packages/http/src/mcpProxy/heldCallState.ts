import { hash } from "node:crypto"
import { makeRequestStateSeal, type RequestStateSeal } from "./requestStateSeal.ts"

// The `requestState` the DTMA hands a 2026-07-28 client when a 2025-era server asks it something
// mid-call (MRTR, basic/patterns/mrtr.mdx). The client must echo it byte for byte, and it is
// attacker input (Server Requirements 4–5): it is sealed (`requestStateSeal.ts`: AES-256-GCM under a
// key of this process's; a held call does not outlive the process anyway), its payload binding the
// principal, the originating request (endpoint, server, method, a digest of its params) and an
// expiry, with the principal again as associated data. Encrypted, not only signed: a client learns
// nothing of the DTMA's handles. Single use is the held-call table's (`HeldCalls`): the seal alone
// cannot give it.

/** What a sealed state is about: who asked, where, and which request. */
export interface RequestBinding {
  /** The principal: an agent (issuer and agent id) or the operator (`principalOf`). */
  readonly principal: string
  /** The endpoint (a server's name or `/mcp`) and the server the request went to. */
  readonly place: string
  readonly method: string
  /** The request's params as the client sent them; `_meta`, `inputResponses` and `requestState` do not count. */
  readonly params: Readonly<Record<string, unknown>> | undefined
}

/** What a sealed state carries besides its binding. */
export interface Sealed {
  /** The held call's handle in the table (random, 128 bits, hex). */
  readonly handle: string
  /** When it stops being accepted (Unix ms). */
  readonly exp: number
}

/** Why a state is refused; `expired` names the held call, for the table to cancel it. */
export type Opened =
  | { readonly ok: Sealed }
  | { readonly refused: "invalid" }
  | { readonly refused: "mismatch" }
  | { readonly refused: "expired"; readonly handle: string }

/** The payload's plaintext, short keys: the state travels in every retry. */
interface Payload {
  readonly v: 1
  readonly h: string
  readonly a: string
  readonly p: string
  readonly m: string
  readonly d: string
  readonly e: number
}

/** A state longer than this is no state of the DTMA's: not even decoded. */
const MAX_STATE_CHARS = 4096

/** JSON with object keys sorted at every level: the same params give the same digest however the client orders them. */
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

const RETRY_FIELDS: ReadonlySet<string> = new Set(["_meta", "inputResponses", "requestState"])

/** SHA-256 (base64url) of the params that make the request what it is: a retry's own fields and `_meta` left out. */
export const paramsDigest = (params: Readonly<Record<string, unknown>> | undefined): string =>
  hash("sha256", canonical(Object.fromEntries(Object.entries(params ?? {}).filter(([k]) => !RETRY_FIELDS.has(k)))), "base64url")

const isPayload = (value: unknown): value is Payload => {
  const p = value as Partial<Payload> | null
  return (
    typeof p === "object" &&
    p !== null &&
    p.v === 1 &&
    typeof p.h === "string" &&
    typeof p.a === "string" &&
    typeof p.p === "string" &&
    typeof p.m === "string" &&
    typeof p.d === "string" &&
    typeof p.e === "number"
  )
}

/** Seals and opens the held-call states of one DTMA process (over the AES-256-GCM core, `requestStateSeal.ts`). */
export class HeldCallSeal {
  readonly #core: RequestStateSeal

  /** `key`: 32 bytes; default a fresh random one (states of an earlier process are then refused). */
  constructor(key?: Buffer) {
    this.#core = makeRequestStateSeal(key)
  }

  /** `base64url(nonce ‖ ciphertext ‖ tag)` of the binding and `sealed`, the principal as associated data. */
  seal(binding: RequestBinding, sealed: Sealed): string {
    const payload: Payload = {
      v: 1,
      h: sealed.handle,
      a: binding.principal,
      p: binding.place,
      m: binding.method,
      d: paramsDigest(binding.params),
      e: sealed.exp,
    }
    return this.#core.seal(JSON.stringify(payload), binding.principal)
  }

  /**
   * Opens `state` presented by `binding.principal` on the request `binding` at `now`: refused when it
   * is no state this process sealed for that principal (tampered, forged, another's, another
   * process's), when it was sealed for another request, or once it expired.
   */
  open(state: string, binding: RequestBinding, now: number): Opened {
    const payload = this.#decrypt(state, binding.principal)
    if (payload === null || payload.a !== binding.principal) return { refused: "invalid" }
    if (payload.p !== binding.place || payload.m !== binding.method || payload.d !== paramsDigest(binding.params)) return { refused: "mismatch" }
    if (now >= payload.e) return { refused: "expired", handle: payload.h }
    return { ok: { handle: payload.h, exp: payload.e } }
  }

  #decrypt(state: string, principal: string): Payload | null {
    if (state.length > MAX_STATE_CHARS) return null
    const plain = this.#core.open(state, principal)
    if (plain === null) return null
    try {
      const payload: unknown = JSON.parse(plain)
      return isPayload(payload) ? payload : null
    } catch {
      return null
    }
  }
}
