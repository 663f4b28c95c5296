import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"

// The one sealing core of the `requestState`s the DTMA hands its 2026-07-28 clients (mrtr.mdx): the
// state is attacker input that comes back on a retry, so it travels encrypted and authenticated
// (AES-256-GCM) under a key of the process's, bound to whom and what it is about by associated data.
// Two kinds use it: the MRTR bridge's held-call state (`heldCallState.ts`: a handle and the request
// it was issued for, bound to the caller) and a 2026-07-28 server's own state on its way through
// (`modernPassThrough.ts`: bound to the server instance and the caller). Each has a seal of its own.

const NONCE_BYTES = 12
const TAG_BYTES = 16

export interface RequestStateSeal {
  /** `state` encrypted and authenticated under `binding` (who and where), as base64url. */
  seal(state: string, binding: string): string
  /** The state `sealed` holds when it was sealed under `binding`; null for anything else (altered, another binding, not a seal). */
  open(sealed: string, binding: string): string | null
}

/** AES-256-GCM under `key`, 32 bytes (a random one per process by default: held states do not outlive the process that sealed them). */
export const makeRequestStateSeal = (key: Buffer = randomBytes(32)): RequestStateSeal => {
  if (key.length !== 32) throw new Error("A requestState key is 32 bytes")
  return {
    seal: (state, binding) => {
      const nonce = randomBytes(NONCE_BYTES)
      const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES })
      cipher.setAAD(Buffer.from(binding, "utf8"))
      const body = Buffer.concat([cipher.update(state, "utf8"), cipher.final()])
      return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64url")
    },
    open: (sealed, binding) => {
      if (!/^[A-Za-z0-9_-]*$/.test(sealed)) return null
      const bytes = Buffer.from(sealed, "base64url")
      // Only the one spelling the DTMA wrote: a change in a last character's spare bits is a change too.
      if (bytes.length < NONCE_BYTES + TAG_BYTES || bytes.toString("base64url") !== sealed) return null
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES })
        decipher.setAAD(Buffer.from(binding, "utf8"))
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
        return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8")
      } catch {
        return null
      }
    },
  }
}

/** The principal a state is bound to: the operator (any of its keys), or one agent of one issuer. */
export const principalOf = (caller: { readonly kind: "operator" } | { readonly kind: "agent"; readonly issuer: string; readonly sub: string }): string =>
  caller.kind === "operator" ? "operator" : `agent ${JSON.stringify([caller.issuer, caller.sub])}`

/** The process's seal of the states 2026-07-28 servers hand on through it (`modernPassThrough.ts`). */
export const REQUEST_STATE_SEAL: RequestStateSeal = makeRequestStateSeal()
