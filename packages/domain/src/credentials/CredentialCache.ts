import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import { CredentialFetchFailed, type CredentialRequest, type CredentialSource, type OAuthCredential } from "../ports/CredentialSource.ts"
import { credentialOf, leaseOf, leaseTransition, type CredentialLease, type LeaseEvent } from "./lease.ts"
import { stateAt } from "./renewalPolicy.ts"

/** Called with the new credential each time a connection's token is renewed. */
export type RenewalListener = (credential: OAuthCredential) => Effect.Effect<void>

/** One in-memory lease per OAuth connection, shared by every server that uses the connection. */
export interface CredentialCache {
  /**
   * Usable credentials for the request's connections: cached ones while unexpired, fetched ones for
   * connections not yet held or expired. A connection needing a new sign-in fails without a call.
   */
  get(request: CredentialRequest): Effect.Effect<ReadonlyArray<OAuthCredential>, CredentialFetchFailed>
  /**
   * Asks the backend again for the connections now. Single-flight per connection: concurrent
   * refreshes of a connection share one backend call. A failure keeps a still-valid old token.
   */
  refresh(connectionIds: ReadonlyArray<string>, request: CredentialRequest): Effect.Effect<ReadonlyArray<CredentialLease>, CredentialFetchFailed>
  /** The lease with its state at the current time; undefined when the connection is not held. */
  lease(connectionId: string): Effect.Effect<CredentialLease | undefined>
  /** Registers a listener for new tokens of the connection; the returned function removes it. */
  onRenewed(connectionId: string, listener: RenewalListener): () => void
  /** Drops the connection's token and listeners. Idempotent. */
  forget(connectionId: string): Effect.Effect<void>
}

type Flight = Deferred.Deferred<CredentialLease, CredentialFetchFailed>

/** A credential cache over the backend; time comes from effect's `Clock`. */
export const makeCredentialCache = (options: { readonly source: CredentialSource }): CredentialCache => {
  const leases = new Map<string, CredentialLease>()
  const listeners = new Map<string, Set<RenewalListener>>()
  const flights = new Map<string, Flight>()

  const apply = (connectionId: string, event: LeaseEvent): void => {
    const lease = leases.get(connectionId)
    if (lease === undefined) return
    const next = leaseTransition(lease, event)
    if (Result.isSuccess(next)) leases.set(connectionId, next.success)
  }

  const settle = (ids: ReadonlyArray<string>, error: CredentialFetchFailed): void => {
    const named = error.connectionId === null ? ids : ids.filter((id) => id === error.connectionId)
    for (const id of ids) {
      const message = error.message
      if (!named.includes(id)) apply(id, { _tag: "RefreshFailed", reason: error.reason, message })
      else if (error.reason === "reauthorization_required") apply(id, { _tag: "ReauthorizationRequired", message })
      else if (error.reason === "not_found") apply(id, { _tag: "ConnectionMissing", message })
      else apply(id, { _tag: "RefreshFailed", reason: error.reason, message })
    }
  }

  const renewed = (credential: OAuthCredential, at: number): CredentialLease => {
    const held = leases.get(credential.connectionId)
    const next =
      held === undefined
        ? leaseOf(credential, at)
        : Result.getOrElse(leaseTransition(held, { _tag: "RefreshSucceeded", credential, at }), () => ({ ...leaseOf(credential, at), refreshedAt: at }))
    leases.set(credential.connectionId, next)
    return next
  }

  // One backend call for the connections no flight is under way for; settles each one's Deferred.
  const fly = (ids: ReadonlyArray<string>, mine: ReadonlyMap<string, Flight>, request: CredentialRequest) =>
    Effect.gen(function* () {
      for (const id of ids) apply(id, { _tag: "RefreshStarted" })
      const exit = yield* Effect.exit(options.source.fetchOAuth({ ...request, connectionIds: ids }))
      const at = yield* Clock.currentTimeMillis
      if (Exit.isFailure(exit)) {
        const error = Exit.findErrorOption(exit)
        const failure =
          error._tag === "Some" ? error.value : new CredentialFetchFailed({ reason: "unavailable", connectionId: null, detail: "the request was interrupted" })
        settle(ids, failure)
        for (const id of ids) yield* Deferred.fail(mine.get(id)!, failure)
        return
      }
      for (const id of ids) {
        const credential = exit.value.find((c) => c.connectionId === id)
        if (credential === undefined) {
          const missing = new CredentialFetchFailed({ reason: "not_found", connectionId: id, detail: "the backend returned no credential for the connection" })
          apply(id, { _tag: "ConnectionMissing", message: missing.message })
          yield* Deferred.fail(mine.get(id)!, missing)
          continue
        }
        const lease = renewed(credential, at)
        for (const listener of listeners.get(id) ?? []) yield* Effect.ignoreCause(listener(credential))
        yield* Deferred.succeed(mine.get(id)!, lease)
      }
    }).pipe(
      // A defect must not leave waiters hanging: whatever is still unsettled is interrupted.
      Effect.ensuring(
        Effect.forEach(ids, (id) => {
          if (flights.get(id) === mine.get(id)) flights.delete(id)
          return Deferred.interrupt(mine.get(id)!)
        }),
      ),
      Effect.uninterruptible,
    )

  const refresh: CredentialCache["refresh"] = (connectionIds, request) =>
    Effect.suspend(() => {
      const mine = new Map<string, Flight>()
      for (const id of new Set(connectionIds)) {
        if (flights.has(id)) continue
        const flight = Deferred.makeUnsafe<CredentialLease, CredentialFetchFailed>()
        flights.set(id, flight)
        mine.set(id, flight)
      }
      const waitFor = connectionIds.map((id) => flights.get(id)!)
      const started = mine.size === 0 ? Effect.void : fly([...mine.keys()], mine, request)
      return started.pipe(Effect.andThen(Effect.forEach(waitFor, (flight) => Deferred.await(flight))))
    })

  const get: CredentialCache["get"] = (request) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const stale: Array<string> = []
      for (const id of request.connectionIds) {
        const lease = leases.get(id)
        if (lease?.state === "reauthorization_required") {
          return yield* new CredentialFetchFailed({
            reason: "reauthorization_required",
            connectionId: id,
            detail: "the user must sign in to the connection again",
          })
        }
        if (lease === undefined || lease.token === null || stateAt(lease, now) === "expired") stale.push(id)
      }
      if (stale.length > 0) yield* refresh(stale, request)
      return request.connectionIds.flatMap((id) => {
        const lease = leases.get(id)
        const credential = lease === undefined ? null : credentialOf(lease)
        return credential === null ? [] : [credential]
      })
    })

  return {
    get,
    refresh,
    lease: (connectionId) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const lease = leases.get(connectionId)
        return lease === undefined ? undefined : { ...lease, state: stateAt(lease, now) }
      }),
    onRenewed: (connectionId, listener) => {
      const set = listeners.get(connectionId) ?? new Set()
      listeners.set(connectionId, set)
      set.add(listener)
      return () => void set.delete(listener)
    },
    forget: (connectionId) =>
      Effect.sync(() => {
        leases.delete(connectionId)
        listeners.delete(connectionId)
      }),
  }
}
