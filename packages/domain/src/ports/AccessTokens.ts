import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Result from "effect/Result"
import type { AgentIdentity } from "../access/AgentIdentity.ts"
import { token, type Token } from "../Token.ts"

/**
 * Why a bearer token is refused. `malformed`: not a signed JWT in compact form, or too long;
 * `disallowed_algorithm`: signed with anything but EdDSA (Ed25519), ES256 or RS256 (`none` and
 * HMAC included); `bad_signature`: the signature does not match (a tampered token);
 * `unknown_key`: no key of its issuer matches it (after the one refresh allowed);
 * `keys_unavailable`: its issuer's keys could not be fetched or read (the token may be fine);
 * `expired` / `not_yet_valid`: `exp`, `nbf` or `iat` out of range beyond the leeway;
 * `wrong_issuer`: `iss` is not a configured issuer; `wrong_audience`: `aud` does not name this
 * DTMA; `invalid_claims`: `sub`, `jti`, `iat`, `exp`, the lifetime or the grants are not as the
 * spec says; `revoked`: the token or its agent was revoked.
 */
export type TokenProblem =
  | "malformed"
  | "disallowed_algorithm"
  | "bad_signature"
  | "unknown_key"
  | "keys_unavailable"
  | "expired"
  | "not_yet_valid"
  | "wrong_issuer"
  | "wrong_audience"
  | "invalid_claims"
  | "revoked"

/** The token is refused. Never carries the token, nor anything read from it before its signature was checked. */
export class TokenRefused extends Data.TaggedError("TokenRefused")<{
  readonly reason: TokenProblem
  readonly detail: string
}> {
  override get message(): string {
    return `The access token is refused (${this.reason}): ${this.detail}`
  }
}

/** Tells which agent a bearer token speaks for, and what it may use. */
export interface AccessTokens {
  /**
   * The agent the token was issued to, with its grants, when the token is a JWT signed by a
   * configured issuer's key with an allowed algorithm, for this DTMA's audience, within its
   * validity (with leeway), and neither it nor its agent is revoked. Deny by default: anything
   * unexpected is a refusal. A token verified before may be answered from memory (kept by a digest
   * of it, never the token), but expiry and revocation are checked on every call.
   */
  verify(token: Redacted.Redacted<string>): Effect.Effect<AgentIdentity, TokenRefused>
  /**
   * What `verify` answers at `now` (unix ms) when that needs no verifying: the token was verified
   * before and is still held in memory; its expiry and the revocations are checked as `verify`
   * checks them. Undefined when it is not held: only `verify` can tell then. Synchronous, with no
   * effect to run: the edge asks it on every agent request before anything else.
   */
  verifyKnown(token: Redacted.Redacted<string>, now: number): Result.Result<AgentIdentity, TokenRefused> | undefined
}

export const AccessTokens: Token<AccessTokens> = token("dtma/AccessTokens")
