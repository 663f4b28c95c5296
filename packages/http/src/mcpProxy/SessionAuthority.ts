import type { CallerIdentity, Revocation } from "@dtma/domain"
import type { Authorized } from "./requestAccess.ts"
import { owns, revokes, sessionOwnerOf, type SessionOwner, type SessionTokens } from "./sessionOwner.ts"
import type { ProxyTimers } from "./timers.ts"

export interface SessionAuthorityOptions {
  /** The caller who opens the session (its owner), and what the opening request may reach. */
  readonly opener: Authorized
  readonly timers: ProxyTimers
  /** How long after `exp` the verifier still accepts a token. */
  readonly leewayMs: number
  /** The token that last authorized the session is no longer accepted: what it holds open must end. */
  readonly onExpired: () => void
}

/**
 * Who a client session belongs to and what last authorized it. Every request on the session
 * authorizes it anew with its own token: that token's grants decide which server notifications
 * the session hears (`current`, for the session's reach to judge), and its expiry (`exp` + the
 * verifier's leeway, the moment verification starts refusing it) ends what the session holds open,
 * unless a newer token came first.
 */
export class SessionAuthority {
  readonly #owner: SessionOwner
  readonly #options: SessionAuthorityOptions
  #current: Authorized
  #tokens: { sub: string; issuedAt: number; jtis: Set<string> } | null = null
  #cancelExpiry: () => void = () => undefined
  /** When the armed expiry fires; null when none is armed. */
  #expiresAt: number | null = null

  constructor(options: SessionAuthorityOptions) {
    this.#owner = sessionOwnerOf(options.opener.caller)
    this.#current = options.opener
    this.#options = options
  }

  /** Whether `caller` may use the session at all; anyone else is told it does not exist. */
  admits(caller: CallerIdentity): boolean {
    return owns(this.#owner, caller)
  }

  /** The caller of the session's last request, and what it could reach. */
  get current(): Authorized {
    return this.#current
  }

  /** A request of the session's owner, under its caller's token, may reach what `authorized` says. */
  authorize(authorized: Authorized): void {
    this.#current = authorized
    const { caller } = authorized
    if (caller.kind !== "agent") return
    const jtis = this.#tokens?.jtis ?? new Set<string>()
    if (caller.jti !== null) jtis.add(caller.jti)
    this.#tokens = { sub: caller.sub, issuedAt: caller.issuedAt, jtis }
    const expiresAt = caller.expiresAt + this.#options.leewayMs
    // The same token again (the usual case): its expiry is armed already.
    if (expiresAt === this.#expiresAt) return
    this.#cancelExpiry()
    this.#expiresAt = expiresAt
    this.#cancelExpiry = this.#options.timers.at(expiresAt, () => {
      this.#expiresAt = null
      this.#options.onExpired()
    })
  }

  revokedBy(revocation: Revocation): boolean {
    const tokens: SessionTokens | null = this.#tokens
    return tokens !== null && revokes(revocation, tokens)
  }

  /** The session ended: no expiry to wait for. */
  stop(): void {
    this.#cancelExpiry()
    this.#expiresAt = null
  }
}
