import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberMap from "effect/FiberMap"
import * as FiberSet from "effect/FiberSet"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { InvalidInstanceSpec } from "../errors.ts"
import type { EnvVar, OAuthBinding } from "../ManagedInstance.ts"
import { makeKeyedLock } from "../keyedLock.ts"
import type { CredentialCache } from "../credentials/CredentialCache.ts"
import { credentialOf, type CredentialLease, type LeaseState } from "../credentials/lease.ts"
import { socketEnv, tokenEnvOf, tokenFileEnvOf } from "../credentials/layout.ts"
import { nextRefreshAt, retryDelay, type RenewalPolicy, type RetryPolicy } from "../credentials/renewalPolicy.ts"
import { CredentialDeliveryFailed, type ContainerOwner, type CredentialDelivery, type DeliveryMount } from "../ports/CredentialDelivery.ts"
import type { CredentialFetchFailed, CredentialRequest } from "../ports/CredentialSource.ts"
import { ownerOf } from "./containerOwner.ts"

export interface ServerCredentialsSettings {
  /** The schedule of `on_expiry` servers. */
  readonly onExpiry: Extract<RenewalPolicy, { _tag: "on_expiry" }>
  readonly retry: RetryPolicy
  /** How often a connection with nothing scheduled is looked at again. */
  readonly idleRecheckMs: number
}

/** A server whose tokens the DTMA keeps: its name, backend identity and OAuth binding. */
export interface CredentialHolder {
  readonly name: string
  readonly accountToolInstanceId: string | null
  readonly binding: OAuthBinding
}

/** What a server's container needs: extra environment and read-only mounts. */
export interface PreparedCredentials {
  readonly env: ReadonlyArray<EnvVar>
  readonly mounts: ReadonlyArray<DeliveryMount>
}

/** One connection of a server as the API shows it: states and times, never a token. */
export interface OAuthConnectionView {
  readonly connectionId: string
  readonly provider: string | null
  readonly status: LeaseState
  readonly expiresAt: string | null
  readonly refreshedAt: string | null
  readonly lastError: string | null
}

export interface ServerCredentials {
  /**
   * Fetches the server's tokens and readies their delivery (files or socket provisioned for
   * `owner`, or environment for `env_vars`). On failure nothing is left delivered.
   */
  prepare(
    holder: CredentialHolder,
    user: string | null,
  ): Effect.Effect<PreparedCredentials, CredentialFetchFailed | CredentialDeliveryFailed | InvalidInstanceSpec>
  /** Keeps the server's tokens fresh from now on and delivers each renewal. Idempotent. */
  track(holder: CredentialHolder): Effect.Effect<void>
  /** Asks the backend now and delivers the result before answering. */
  refresh(name: string): Effect.Effect<ReadonlyArray<OAuthConnectionView>, CredentialFetchFailed | CredentialDeliveryFailed>
  /** The token values the connections hold now: what to mask in what a server prints. Never logged. */
  tokenValues(connectionIds: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string>>
  /** The server's connections now; empty for a server without any. */
  connections(name: string): Effect.Effect<ReadonlyArray<OAuthConnectionView>>
  /** Stops tracking, wipes what was delivered, forgets connections no other server uses. Idempotent. */
  release(name: string): Effect.Effect<void>
  isTracked(name: string): boolean
}

/** Called when an `env_vars` server's tokens changed: its container must be replaced. */
export type EnvRenewal = (name: string) => Effect.Effect<void, unknown>

export interface ServerCredentialsDeps {
  readonly cache: CredentialCache
  readonly delivery: CredentialDelivery
  readonly settings: ServerCredentialsSettings
  readonly random?: () => number
  /** Replaces an `env_vars` server's container with one carrying its new tokens. */
  readonly onEnvRenewal: EnvRenewal
}

const requestOf = (holder: CredentialHolder): CredentialRequest => ({
  agentId: holder.binding.agentId,
  accountToolInstanceId: holder.accountToolInstanceId ?? holder.name,
  connectionIds: holder.binding.connectionIds,
  requiredScopes: holder.binding.requiredScopes,
})

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

export const viewOfLease = (connectionId: string, lease: CredentialLease | undefined): OAuthConnectionView =>
  lease === undefined
    ? { connectionId, provider: null, status: "missing", expiresAt: null, refreshedAt: null, lastError: null }
    : {
        connectionId,
        provider: lease.provider,
        status: lease.state,
        expiresAt: iso(lease.expiresAt),
        refreshedAt: iso(lease.refreshedAt ?? lease.obtainedAt),
        lastError: lease.lastError,
      }

/**
 * Keeps servers' tokens fresh. Its schedules and deliveries run in the scope it is built in: closing
 * it stops them (tokens and deliveries stay, for a restarted DTMA to take over).
 */
export const makeServerCredentials = (deps: ServerCredentialsDeps): Effect.Effect<ServerCredentials, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { cache, delivery, settings } = deps
    const random = deps.random ?? Math.random
    // `delivered`: the token objects last handed to the server (each fetch makes new ones), never their values.
    const holders = new Map<string, { holder: CredentialHolder; unsubscribe: ReadonlyArray<() => void>; delivered: ReadonlyArray<unknown> }>()
    // One refresh schedule per connection; other background work (deliveries, retries) beside them.
    const schedules = yield* FiberMap.make<string>()
    const background = yield* FiberSet.make()
    const oneAtATime = makeKeyedLock()
    /** Failed env_vars replacements in a row, per server: the backoff of the next attempt. */
    const envRetries = new Map<string, number>()

    const policyOf = (binding: OAuthBinding): RenewalPolicy =>
      binding.refreshStrategy === "periodic" && binding.refreshIntervalSeconds !== null
        ? { _tag: "periodic", intervalMs: binding.refreshIntervalSeconds * 1000 }
        : binding.refreshStrategy === "on_demand"
          ? { _tag: "on_demand" }
          : settings.onExpiry

    const holdersOf = (connectionId: string) => [...holders.values()].filter((h) => h.holder.binding.connectionIds.includes(connectionId))

    const currentCredentials = (holder: CredentialHolder) =>
      Effect.forEach(holder.binding.connectionIds, (id) => cache.lease(id)).pipe(
        Effect.map((leases) =>
          leases.flatMap((lease) => {
            const credential = lease === undefined ? null : credentialOf(lease)
            return credential === null ? [] : [credential]
          }),
        ),
      )

    /** Delivers the server's current tokens unless these very tokens were delivered already. */
    const deliver = (name: string): Effect.Effect<void, CredentialDeliveryFailed> =>
      oneAtATime(
        name,
        Effect.gen(function* () {
          const entry = holders.get(name)
          if (entry === undefined) return
          const current = yield* currentCredentials(entry.holder)
          const tokens = current.map((c) => c.accessToken)
          if (tokens.length === entry.delivered.length && tokens.every((t, i) => t === entry.delivered[i])) return
          if (entry.holder.binding.method === "env_vars") {
            const replaced = yield* Effect.exit(deps.onEnvRenewal(name))
            if (Exit.isFailure(replaced)) {
              // Not marked delivered: the replacement is tried again later, and the caller told why.
              const attempt = (envRetries.get(name) ?? 0) + 1
              envRetries.set(name, attempt)
              const after = retryDelay({ attempt, policy: settings.retry, random: random(), now: 0, expiresAt: null, minimumBeforeExpiryMs: 0 })
              yield* FiberSet.run(background, Effect.sleep(after).pipe(Effect.andThen(deliver(name)), Effect.ignore))
              const why = Cause.pretty(replaced.cause).split("\n")[0] ?? "unknown"
              return yield* new CredentialDeliveryFailed({
                name,
                reason: "io_failed",
                detail: `the replacement container with the new tokens did not take over (retried in ${after} ms): ${why}`,
              })
            }
            envRetries.delete(name)
          } else yield* delivery.publish(name, current)
          // The env_vars replacement re-tracks the server under a new entry: mark that one, or the
          // next deliver (the refresh endpoint's own) sees stale tokens and replaces the container again.
          const latest = holders.get(name)
          if (latest !== undefined) latest.delivered = tokens
        }),
      )

    const scheduleLoop = (connectionId: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        let attempt = 0
        for (;;) {
          const users = holdersOf(connectionId)
          const lease = yield* cache.lease(connectionId)
          if (users.length === 0 || lease === undefined) return
          const now = yield* Clock.currentTimeMillis
          if (attempt === 0) {
            const due = users.map((u) => nextRefreshAt(lease, policyOf(u.holder.binding), random())).filter((at): at is number => at !== null)
            if (due.length === 0) {
              yield* Effect.sleep(settings.idleRecheckMs)
              continue
            }
            const wait = Math.min(...due) - now
            if (wait > 0) {
              yield* Effect.sleep(Math.min(wait, settings.idleRecheckMs))
              if (wait > settings.idleRecheckMs) continue
            }
          }
          const exit = yield* Effect.exit(cache.refresh([connectionId], requestOf(users[0]!.holder)))
          if (Exit.isSuccess(exit)) {
            attempt = 0
            continue
          }
          attempt++
          const after = yield* cache.lease(connectionId)
          // Refused for good (a sign-in is needed, the connection is gone): wait for a person.
          if (after === undefined || after.state === "reauthorization_required" || after.state === "missing") {
            attempt = 0
            yield* Effect.sleep(settings.idleRecheckMs)
            continue
          }
          const at = yield* Clock.currentTimeMillis
          yield* Effect.sleep(
            retryDelay({
              attempt,
              policy: settings.retry,
              random: random(),
              now: at,
              expiresAt: after.expiresAt,
              minimumBeforeExpiryMs: settings.onExpiry.minimumBeforeExpiryMs,
            }),
          )
        }
      })

    // Running it again interrupts the connection's previous schedule.
    const reschedule = (connectionId: string) => FiberMap.run(schedules, connectionId, scheduleLoop(connectionId))

    const prepare: ServerCredentials["prepare"] = (holder, user) =>
      Effect.gen(function* () {
        const credentials = yield* cache.get(requestOf(holder))
        const method = holder.binding.method
        if (method === "env_vars") return { env: tokenEnvOf(credentials), mounts: [] }
        const owner: ContainerOwner = yield* ownerOf(user)
        const mounts = yield* delivery.provision({ name: holder.name, method, owner, credentials })
        return { env: method === "mounted_secrets" ? tokenFileEnvOf(credentials) : socketEnv, mounts }
      })

    const track: ServerCredentials["track"] = (holder) =>
      Effect.gen(function* () {
        const old = holders.get(holder.name)
        for (const stop of old?.unsubscribe ?? []) stop()
        // Started after the renewing fiber goes on: a refresh delivers (and reports) itself, this one then finds nothing new.
        const listener = () => FiberSet.run(background, deliver(holder.name).pipe(Effect.ignore), { startImmediately: false }).pipe(Effect.asVoid)
        const unsubscribe = holder.binding.connectionIds.map((id) => cache.onRenewed(id, listener))
        const current = yield* currentCredentials(holder)
        holders.set(holder.name, { holder, unsubscribe, delivered: old?.delivered ?? current.map((c) => c.accessToken) })
        for (const id of holder.binding.connectionIds) yield* reschedule(id)
      })

    const connections: ServerCredentials["connections"] = (name) => {
      const entry = holders.get(name)
      if (entry === undefined) return Effect.succeed([])
      return Effect.forEach(entry.holder.binding.connectionIds, (id) => cache.lease(id).pipe(Effect.map((lease) => viewOfLease(id, lease))))
    }

    const release: ServerCredentials["release"] = (name) =>
      Effect.gen(function* () {
        const entry = holders.get(name)
        holders.delete(name)
        envRetries.delete(name)
        for (const stop of entry?.unsubscribe ?? []) stop()
        yield* delivery.wipe(name)
        for (const id of entry?.holder.binding.connectionIds ?? []) {
          if (holdersOf(id).length > 0) continue
          yield* FiberMap.remove(schedules, id)
          yield* cache.forget(id)
        }
      })

    return {
      prepare,
      track,
      refresh: (name) =>
        Effect.gen(function* () {
          const entry = holders.get(name)
          if (entry === undefined) return []
          yield* cache.refresh(entry.holder.binding.connectionIds, requestOf(entry.holder))
          yield* deliver(name)
          return yield* connections(name)
        }),
      connections,
      tokenValues: (connectionIds) =>
        Effect.forEach(connectionIds, (id) => cache.lease(id)).pipe(
          Effect.map((leases) => leases.flatMap((lease) => (lease?.token == null ? [] : [Redacted.value(lease.token)]))),
        ),
      release,
      isTracked: (name) => holders.has(name),
    } satisfies ServerCredentials
  })
