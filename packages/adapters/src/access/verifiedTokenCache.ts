import { hash } from "node:crypto"
import * as Redacted from "effect/Redacted"
import type { AgentIdentity } from "@dtma/domain"

/** The cache key of a token: its SHA-256, so that the cache never holds a token (one-shot: half the cost of a Hash object). */
const digestOf = (token: string): string => hash("sha256", token, "base64url")

/**
 * `digestOf` a token, worked out once per `Redacted` holding it: the edge hands over the same one
 * for every request of a connection that repeats its token (`auth.ts`), so a warm call hashes
 * nothing. Held weakly: the memo keeps no token alive, and is gone with the connection's.
 */
export const makeDigestMemo = (): ((token: Redacted.Redacted<string>) => string) => {
  const digests = new WeakMap<Redacted.Redacted<string>, string>()
  return (token) => {
    const known = digests.get(token)
    if (known !== undefined) return known
    const digest = digestOf(Redacted.value(token))
    digests.set(token, digest)
    return digest
  }
}

/**
 * Identities of tokens whose signature and claims were checked, by digest, each until its token
 * stops being accepted (`exp` + leeway). Bounded: past `maxEntries`, the entry used least recently
 * goes (a Map keeps insertion order; a hit moves its entry to the end).
 */
export const makeVerifiedTokenCache = (maxEntries: number) => {
  const entries = new Map<string, { readonly identity: AgentIdentity; readonly acceptUntil: number }>()
  return {
    /** The identity, `expired` (and forgotten) once past its time, or undefined when not held. */
    get(digest: string, now: number): AgentIdentity | "expired" | undefined {
      const entry = entries.get(digest)
      if (entry === undefined) return undefined
      entries.delete(digest)
      if (now >= entry.acceptUntil) return "expired"
      entries.set(digest, entry)
      return entry.identity
    },
    set(digest: string, identity: AgentIdentity, acceptUntil: number): void {
      entries.delete(digest)
      entries.set(digest, { identity, acceptUntil })
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value!)
    },
    get size(): number {
      return entries.size
    },
  }
}
