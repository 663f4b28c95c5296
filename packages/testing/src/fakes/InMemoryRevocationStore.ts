import * as Effect from "effect/Effect"
import { RevocationStoreFailed, type RevocationsSnapshot, type RevocationStore } from "@dtma/domain"

/** What the fake keeps: a snapshot, or something that is not one (as a damaged file would be). */
interface Place {
  kept: RevocationsSnapshot | "corrupt" | null
}

/**
 * A stand-in for `FileRevocationStore`: keeps a copy of the last snapshot saved (not the caller's
 * object), fails `corrupt` after `corrupt()` instead of reading nothing, and `unwritable` for each
 * `failNextSave()`, keeping the previous snapshot. `reopen()` is a new store on the same place: a restart.
 */
export class InMemoryRevocationStore implements RevocationStore {
  readonly #place: Place
  #failSaves = 0
  /** Every snapshot saved, in order. */
  readonly saves: Array<RevocationsSnapshot> = []

  constructor(place: Place = { kept: null }) {
    this.#place = place
  }

  reopen(): InMemoryRevocationStore {
    return new InMemoryRevocationStore(this.#place)
  }

  /** What is kept is damaged: the next loads fail `corrupt` until a save replaces it. */
  corrupt(): void {
    this.#place.kept = "corrupt"
  }

  failNextSave(times = 1): void {
    this.#failSaves += times
  }

  load(): Effect.Effect<RevocationsSnapshot, RevocationStoreFailed> {
    return Effect.suspend(() => {
      const kept = this.#place.kept
      if (kept === "corrupt") return Effect.fail(new RevocationStoreFailed({ reason: "corrupt", detail: "the kept revocations are not a revocation list" }))
      return Effect.succeed(kept === null ? { agents: [], tokens: [] } : structuredClone(kept))
    })
  }

  save(snapshot: RevocationsSnapshot): Effect.Effect<void, RevocationStoreFailed> {
    return Effect.suspend(() => {
      if (this.#failSaves > 0) {
        this.#failSaves -= 1
        return Effect.fail(new RevocationStoreFailed({ reason: "unwritable", detail: "injected failure" }))
      }
      const copy = structuredClone(snapshot)
      this.#place.kept = copy
      this.saves.push(copy)
      return Effect.void
    })
  }
}
