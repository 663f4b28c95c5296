import * as Result from "effect/Result"
import type * as Redacted from "effect/Redacted"
import { IllegalTransition } from "../lifecycle.ts"
import type { CredentialProblem, OAuthCredential } from "../ports/CredentialSource.ts"

/** Where one OAuth connection's token is: usable, being renewed, or why it cannot be used. */
export type LeaseState = "valid" | "expiring" | "refreshing" | "refresh_failed" | "expired" | "reauthorization_required" | "missing"

/** The DTMA's in-memory hold on one connection's current token. Never serialises the token. */
export interface CredentialLease {
  readonly connectionId: string
  readonly provider: string
  readonly scopes: ReadonlyArray<string>
  /** Null once the backend says the connection is gone or must be signed into again. */
  readonly token: Redacted.Redacted<string> | null
  readonly tokenType: string
  /** Unix ms; null when the token does not expire. */
  readonly expiresAt: number | null
  /** When the current token was obtained (unix ms). */
  readonly obtainedAt: number
  readonly state: LeaseState
  /** Why the last refresh failed: the error's message, never a token. */
  readonly lastError: string | null
  /** When the last successful refresh happened (unix ms); null before the first. */
  readonly refreshedAt: number | null
}

export type LeaseEvent =
  | { readonly _tag: "Obtained"; readonly credential: OAuthCredential; readonly at: number }
  | { readonly _tag: "RefreshStarted" }
  | { readonly _tag: "RefreshSucceeded"; readonly credential: OAuthCredential; readonly at: number }
  | { readonly _tag: "RefreshFailed"; readonly reason: CredentialProblem; readonly message: string }
  | { readonly _tag: "ReauthorizationRequired"; readonly message: string }
  | { readonly _tag: "Expired" }
  | { readonly _tag: "ConnectionMissing"; readonly message: string }

/** A fresh lease on a credential the backend just handed out. */
export const leaseOf = (credential: OAuthCredential, at: number): CredentialLease => ({
  connectionId: credential.connectionId,
  provider: credential.provider,
  scopes: credential.scopes,
  token: credential.accessToken,
  tokenType: credential.tokenType,
  expiresAt: credential.expiresAt,
  obtainedAt: at,
  state: "valid",
  lastError: null,
  refreshedAt: null,
})

/** The credential a lease holds, or null when it holds no token. */
export const credentialOf = (lease: CredentialLease): OAuthCredential | null =>
  lease.token === null
    ? null
    : {
        connectionId: lease.connectionId,
        provider: lease.provider,
        accessToken: lease.token,
        tokenType: lease.tokenType,
        expiresAt: lease.expiresAt,
        scopes: lease.scopes,
      }

const HOLDS_TOKEN: ReadonlyArray<LeaseState> = ["valid", "expiring", "refresh_failed", "expired"]

const next = (lease: CredentialLease, event: LeaseEvent): CredentialLease | undefined => {
  switch (event._tag) {
    case "Obtained":
      return { ...leaseOf(event.credential, event.at), refreshedAt: lease.refreshedAt }
    case "RefreshStarted":
      // Only a held token is refreshed in place; a connection without one is simply obtained again.
      return lease.state === "refreshing" || lease.token === null ? undefined : { ...lease, state: "refreshing" }
    case "RefreshSucceeded":
      return lease.state === "refreshing" ? { ...leaseOf(event.credential, event.at), refreshedAt: event.at } : undefined
    case "RefreshFailed":
      return lease.state === "refreshing" ? { ...lease, state: "refresh_failed", lastError: event.message } : undefined
    case "ReauthorizationRequired":
      return lease.state === "missing" ? undefined : { ...lease, state: "reauthorization_required", token: null, lastError: event.message }
    case "ConnectionMissing":
      return { ...lease, state: "missing", token: null, lastError: event.message }
    case "Expired":
      return HOLDS_TOKEN.includes(lease.state) && lease.token !== null ? { ...lease, state: "expired" } : undefined
  }
}

/**
 * The lease after an event, or why the event cannot happen now: a refresh cannot start twice, a
 * refresh cannot finish unless one started, a connection without a token is not refreshed in place
 * (it is `Obtained` again) and cannot expire.
 */
export const leaseTransition = (lease: CredentialLease, event: LeaseEvent): Result.Result<CredentialLease, IllegalTransition> => {
  const to = next(lease, event)
  return to === undefined ? Result.fail(new IllegalTransition({ from: lease.state, event: event._tag })) : Result.succeed(to)
}
