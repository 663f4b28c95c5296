import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type { RevocationsSnapshot } from "../access/revocations.ts"
import { token, type Token } from "../Token.ts"

/**
 * `unreadable`: what is kept cannot be read (permissions, I/O); `corrupt`: it was read but is not a
 * list of revocations; `unwritable`: saving failed, and what was kept before is unchanged.
 */
export type RevocationStoreProblem = "unreadable" | "corrupt" | "unwritable"

/** Revocations could not be loaded or kept. Quotes no content (there is no secret in it, but no need either). */
export class RevocationStoreFailed extends Data.TaggedError("RevocationStoreFailed")<{
  readonly reason: RevocationStoreProblem
  readonly detail: string
}> {
  override get message(): string {
    return `The agent token revocations could not be ${this.reason === "unwritable" ? "saved" : "loaded"} (${this.reason}): ${this.detail}`
  }
}

/** Where agent token revocations are kept across restarts. They hold no secret: agent ids, token ids, times. */
export interface RevocationStore {
  /**
   * What the last `save` kept, or no revocations when nothing was ever saved. Fails `corrupt` when
   * what is kept is not revocations: never read as none, which would lift every revocation.
   */
  load(): Effect.Effect<RevocationsSnapshot, RevocationStoreFailed>
  /**
   * Replaces what is kept, whole: a later `load` (in this process or after a restart) sees this
   * snapshot or the previous one, never a mix. Fails `unwritable`, leaving the previous one.
   */
  save(snapshot: RevocationsSnapshot): Effect.Effect<void, RevocationStoreFailed>
}

export const RevocationStore: Token<RevocationStore> = token("dtma/RevocationStore")
