import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import type { RevocationStore, RevocationStoreFailed } from "../ports/RevocationStore.ts"
import { agentIdProblem, tokenIdProblem } from "./AgentIdentity.ts"
import {
  forgetExpired,
  isRevoked,
  revocationsOf,
  revokeAgent,
  revokeToken,
  snapshotOf,
  type Revocations,
  type RevocationSubject,
  type RevocationWindow,
} from "./revocations.ts"

/** One revocation, as listeners hear of it (to close the agent's open sessions at once). */
export type Revocation =
  | { readonly kind: "agent"; readonly agentId: string; readonly revokedAt: number }
  | { readonly kind: "token"; readonly tokenId: string; readonly revokedAt: number }

/** A revocation names no possible agent or token. */
export class InvalidRevocation extends Data.TaggedError("InvalidRevocation")<{
  readonly field: "agentId" | "tokenId"
  readonly problem: string
}> {
  override get message(): string {
    return `Invalid ${this.field}: ${this.problem}`
  }
}

export interface AgentRevocations {
  /**
   * Refuses the agent's tokens issued up to now (see `revocations.ts` for the second-precision
   * rule), at once in this process, then keeps it in the store and tells the listeners. When the
   * store fails, the revocation still holds in this process (refusing at once matters more) and
   * the failure is returned: it will not survive a restart.
   */
  revokeAgent(agentId: string): Effect.Effect<Revocation, InvalidRevocation | RevocationStoreFailed>
  /** Refuses one token by its id, as `revokeAgent` does for an agent. Idempotent. */
  revokeToken(tokenId: string): Effect.Effect<Revocation, InvalidRevocation | RevocationStoreFailed>
  /**
   * Whether a verified token has been revoked, by the revocations in memory: map lookups, no I/O,
   * answered synchronously (the verifier asks on every request, cached tokens included).
   */
  isRevoked(token: RevocationSubject): boolean
  /** Calls `listener` after each revocation; returns the unsubscribe. A throwing listener is ignored. */
  onRevoked(listener: (revocation: Revocation) => void): () => void
}

export interface AgentRevocationsDeps {
  readonly store: RevocationStore
  readonly window: RevocationWindow
}

/** Loads what the store kept (forgetting what has run out) and answers revocations from memory. */
export const makeAgentRevocations = (deps: AgentRevocationsDeps): Effect.Effect<AgentRevocations, RevocationStoreFailed> =>
  Effect.gen(function* () {
    const loadedAt = yield* Clock.currentTimeMillis
    let current: Revocations = forgetExpired(revocationsOf(yield* deps.store.load()), loadedAt, deps.window)
    const listeners = new Set<(revocation: Revocation) => void>()
    const saving = Semaphore.makeUnsafe(1)

    const apply = (revocation: (now: number) => { readonly next: (r: Revocations) => Revocations; readonly told: Revocation }) =>
      Semaphore.withPermits(
        saving,
        1,
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const { next, told } = revocation(now)
          current = forgetExpired(next(current), now, deps.window)
          const saved = yield* Effect.result(deps.store.save(snapshotOf(current)))
          for (const listener of listeners) {
            try {
              listener(told)
            } catch {
              // a listener's failure is its own; the revocation holds
            }
          }
          if (saved._tag === "Failure") return yield* Effect.fail(saved.failure)
          return told
        }),
      )

    return {
      revokeAgent: (agentId) => {
        const problem = agentIdProblem(agentId)
        if (problem !== null) return Effect.fail(new InvalidRevocation({ field: "agentId", problem }))
        return apply((now) => ({ next: (r) => revokeAgent(r, agentId, now), told: { kind: "agent", agentId, revokedAt: now } }))
      },
      revokeToken: (tokenId) => {
        const problem = tokenIdProblem(tokenId)
        if (problem !== null) return Effect.fail(new InvalidRevocation({ field: "tokenId", problem }))
        return apply((now) => ({ next: (r) => revokeToken(r, tokenId, now), told: { kind: "token", tokenId, revokedAt: now } }))
      },
      isRevoked: (token) => isRevoked(current, token),
      onRevoked: (listener) => {
        listeners.add(listener)
        return () => void listeners.delete(listener)
      },
    } satisfies AgentRevocations
  })
