import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type { EnvVar } from "../ManagedInstance.ts"
import { token, type Token } from "../Token.ts"

/** One OAuth connection's current access token, as the backend hands it out. */
export interface OAuthCredential {
  readonly connectionId: string
  readonly provider: string
  readonly accessToken: Redacted.Redacted<string>
  readonly tokenType: string
  /** Unix milliseconds; null when the token does not expire. */
  readonly expiresAt: number | null
  readonly scopes: ReadonlyArray<string>
}

export interface CredentialRequest {
  readonly agentId: string
  readonly accountToolInstanceId: string
  readonly connectionIds: ReadonlyArray<string>
  readonly requiredScopes: ReadonlyArray<string>
}

export type CredentialProblem = "unauthorized" | "forbidden" | "not_found" | "reauthorization_required" | "unavailable" | "timeout" | "invalid_response"

/** The backend would not, or could not, hand out credentials. Never carries a token. */
export class CredentialFetchFailed extends Data.TaggedError("CredentialFetchFailed")<{
  readonly reason: CredentialProblem
  /** The connection the backend named, when it named one. */
  readonly connectionId: string | null
  readonly detail: string
}> {
  override get message(): string {
    const which = this.connectionId === null ? "" : ` for connection '${this.connectionId}'`
    return `The backend refused or failed to hand out credentials${which} (${this.reason}): ${this.detail}`
  }

  /** Worth asking again later: the backend was down or slow, not refusing. */
  get transient(): boolean {
    return this.reason === "unavailable" || this.reason === "timeout"
  }
}

/** The Agentopia backend as the holder of users' credentials; the DTMA keeps them in memory only. */
export interface CredentialSource {
  /**
   * Current access tokens for the connections, one call. The backend is the refresh authority:
   * asking again is how a token is refreshed. Bounded in time; retries only what is transient.
   */
  fetchOAuth(request: CredentialRequest): Effect.Effect<ReadonlyArray<OAuthCredential>, CredentialFetchFailed>
  /** A standard tool's secrets (legacy `get-agent-tool-credentials`), as environment variables; null values skipped. */
  fetchToolSecrets(request: { readonly agentId: string; readonly accountToolInstanceId: string }): Effect.Effect<ReadonlyArray<EnvVar>, CredentialFetchFailed>
}

export const CredentialSource: Token<CredentialSource> = token("dtma/CredentialSource")
