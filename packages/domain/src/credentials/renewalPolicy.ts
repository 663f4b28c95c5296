import type { CredentialLease, LeaseState } from "./lease.ts"

/** When the DTMA asks the backend for a connection's token again (the `refreshStrategy` of a server). */
export type RenewalPolicy =
  | {
      readonly _tag: "on_expiry"
      /** Refresh once this share of the token's lifetime has passed (0.8: at 80%)… */
      readonly lifetimeShare: number
      /** …or this long before expiry, whichever is earlier. */
      readonly marginMs: number
      /** Spread of the refresh time, as a share of the time from obtaining to the refresh (±). */
      readonly jitterShare: number
      /** Jitter never moves a refresh later than this long before expiry. */
      readonly minimumBeforeExpiryMs: number
    }
  | { readonly _tag: "periodic"; readonly intervalMs: number }
  | { readonly _tag: "on_demand" }

export type OnExpiryPolicy = Extract<RenewalPolicy, { readonly _tag: "on_expiry" }>

export const defaultRenewalPolicy: OnExpiryPolicy = {
  _tag: "on_expiry",
  lifetimeShare: 0.8,
  marginMs: 5 * 60_000,
  jitterShare: 0.1,
  minimumBeforeExpiryMs: 30_000,
}

/** A token this close to expiry is reported `expiring`. */
export const EXPIRING_WITHIN_MS = 5 * 60_000

// A connection gone or needing a new sign-in is not refreshed on a schedule: only by hand.
const NOT_SCHEDULED: ReadonlyArray<LeaseState> = ["reauthorization_required", "missing", "refreshing"]

/**
 * The earlier of the lifetime share and the margin before expiry, but never before half the
 * lifetime share (a token shorter-lived than the margin would otherwise be refreshed at once, again
 * and again), and no later than `minimumBeforeExpiryMs` before expiry when the lifetime allows.
 */
export const onExpiryBase = (start: number, expiresAt: number, policy: Extract<RenewalPolicy, { _tag: "on_expiry" }>): number => {
  const lifetime = expiresAt - start
  const floor = start + (policy.lifetimeShare / 2) * lifetime
  const base = Math.max(floor, Math.min(start + policy.lifetimeShare * lifetime, expiresAt - policy.marginMs))
  const deadline = expiresAt - policy.minimumBeforeExpiryMs
  return deadline > start ? Math.min(base, deadline) : base
}

const onExpiryAt = (start: number, expiresAt: number, policy: Extract<RenewalPolicy, { _tag: "on_expiry" }>, random: number): number => {
  const base = onExpiryBase(start, expiresAt, policy)
  const deadline = expiresAt - policy.minimumBeforeExpiryMs
  const jittered = base + (random * 2 - 1) * policy.jitterShare * (base - start)
  const latest = deadline > start ? Math.max(base, deadline) : base
  return Math.floor(Math.min(latest, Math.max(start, jittered)))
}

/**
 * When to refresh the lease next (unix ms), or null for never: on_demand, a token that never
 * expires under on_expiry, and connections needing a sign-in or gone. `random` is in [0, 1).
 */
export const nextRefreshAt = (lease: CredentialLease, policy: RenewalPolicy, random: number): number | null => {
  if (NOT_SCHEDULED.includes(lease.state)) return null
  switch (policy._tag) {
    case "on_demand":
      return null
    case "periodic":
      return (lease.refreshedAt ?? lease.obtainedAt) + policy.intervalMs
    case "on_expiry": {
      if (lease.expiresAt === null) return null
      return onExpiryAt(lease.obtainedAt, lease.expiresAt, policy, random)
    }
  }
}

/**
 * The lease's state at `now`: a token past its expiry is `expired` whatever was recorded, one within
 * `expiringWithinMs` of it is `expiring`; refreshing, failed, gone and sign-in states stay as they are.
 */
export const stateAt = (lease: CredentialLease, now: number, expiringWithinMs: number = EXPIRING_WITHIN_MS): LeaseState => {
  if (lease.state === "reauthorization_required" || lease.state === "missing") return lease.state
  if (lease.expiresAt !== null && now >= lease.expiresAt) return "expired"
  if (lease.state === "refreshing" || lease.state === "refresh_failed") return lease.state
  if (lease.expiresAt !== null && lease.expiresAt - now <= expiringWithinMs) return "expiring"
  return "valid"
}

/** How a failed refresh is retried. */
export interface RetryPolicy {
  readonly baseDelayMs: number
  readonly maxDelayMs: number
}

export const defaultRetryPolicy: RetryPolicy = { baseDelayMs: 1_000, maxDelayMs: 60_000 }

/**
 * The delay before retrying a failed refresh: exponential in `attempt` (1 for the first retry),
 * capped, with ±20% jitter, and shortened to land `minimumBeforeExpiryMs` before the token expires
 * whenever that is still in the future.
 */
export const retryDelay = (options: {
  readonly attempt: number
  readonly policy: RetryPolicy
  readonly random: number
  readonly now: number
  readonly expiresAt: number | null
  readonly minimumBeforeExpiryMs: number
}): number => {
  const { attempt, policy, random, now, expiresAt } = options
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1))
  const delay = Math.round(exponential * (0.8 + 0.4 * random))
  if (expiresAt === null) return delay
  const untilDeadline = expiresAt - options.minimumBeforeExpiryMs - now
  return untilDeadline > 0 ? Math.min(delay, untilDeadline) : delay
}
