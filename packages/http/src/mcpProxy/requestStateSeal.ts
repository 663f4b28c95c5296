import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"

// A 2026-07-28 server's `requestState` (basic/patterns/mrtr.mdx) is opaque to its client, which hands
// it back on its retry. Through the DTMA one client reaches many servers (`/mcp`), and several
// callers reach one: the DTMA seals each state it hands on to the server and caller it came from,
// so a state cannot be replayed at another server, or by another caller, through the DTMA. The
// server keeps its own duties (integrity, expiry, single use); the seal adds the binding, and hides
// the server's state from the client.

const NONCE_BYTES = 12
const TAG_BYTES = 16

export interface RequestStateSeal {
  /** `state` encrypted and authenticated under `binding` (who and where), as base64url. */
  seal(state: string, binding: string): string
  /** The state `sealed` holds when it was sealed under `binding`; null for anything else (altered, another binding, not a seal). */
  open(sealed: string, binding: string): string | null
}

/** AES-256-GCM under `key` (a random one per process by default: held states do not outlive the process that sealed them). */
export const makeRequestStateSeal = (key: Buffer = randomBytes(32)): RequestStateSeal => ({
  seal: (state, binding) => {
    const nonce = randomBytes(NONCE_BYTES)
    const cipher = createCipheriv("aes-256-gcm", key, nonce)
    cipher.setAAD(Buffer.from(binding, "utf8"))
    const body = Buffer.concat([cipher.update(state, "utf8"), cipher.final()])
    return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64url")
  },
  open: (sealed, binding) => {
    const bytes = Buffer.from(sealed, "base64url")
    if (bytes.length < NONCE_BYTES + TAG_BYTES || bytes.toString("base64url") !== sealed) return null
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, NONCE_BYTES))
      decipher.setAAD(Buffer.from(binding, "utf8"))
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES))
      return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8")
    } catch {
      return null
    }
  },
})

/** The process's seal. */
export const REQUEST_STATE_SEAL: RequestStateSeal = makeRequestStateSeal()
