import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { CredentialFetchFailed, type CredentialProblem, type CredentialRequest, type CredentialSource, type EnvVar, type OAuthCredential } from "@dtma/domain"

export interface InMemoryCredentialSourceOptions {
  /** Lifetime of minted tokens; null for tokens that never expire. Default one hour. */
  readonly lifetimeMs?: number | null
  /** How long each fetch takes (on effect's clock). Default 0. */
  readonly latencyMs?: number
}

/**
 * A stateful stand-in for `AgentopiaCredentialSource`: connections with a provider and scopes,
 * a fresh token minted on every fetch (`token-<connection>-<n>`), the backend's refusals
 * (`not_found` naming the connection, `reauthorization_required`) and injectable failures.
 */
export class InMemoryCredentialSource implements CredentialSource {
  readonly #connections = new Map<string, { readonly provider: string; readonly scopes: ReadonlyArray<string> }>()
  readonly #reauthorize = new Set<string>()
  readonly #toolSecrets = new Map<string, Readonly<Record<string, string | null>>>()
  readonly #failures: Array<CredentialProblem> = []
  #random: { readonly rate: number; readonly next: () => number } | null = null
  #minted = 0
  #lifetimeMs: number | null
  readonly #latencyMs: number
  /** Every fetchOAuth request, in order. */
  readonly calls: Array<CredentialRequest> = []

  constructor(options: InMemoryCredentialSourceOptions = {}) {
    this.#lifetimeMs = options.lifetimeMs === undefined ? 3_600_000 : options.lifetimeMs
    this.#latencyMs = options.latencyMs ?? 0
  }

  /** The user connected an account with the provider. */
  connect(connectionId: string, connection: { readonly provider: string; readonly scopes: ReadonlyArray<string> }): void {
    this.#connections.set(connectionId, connection)
    this.#reauthorize.delete(connectionId)
  }

  /** The connection is deleted: fetching it fails `not_found`. */
  disconnect(connectionId: string): void {
    this.#connections.delete(connectionId)
  }

  /** The user must sign in again: fetching fails `reauthorization_required` until `connect`. */
  requireReauthorization(connectionId: string): void {
    this.#reauthorize.add(connectionId)
  }

  /** The next fetches fail with these reasons, one each, before the backend answers again. */
  failNext(...reasons: ReadonlyArray<CredentialProblem>): void {
    this.#failures.push(...reasons)
  }

  /** From now on each fetch fails `unavailable` with probability `rate` (a backend erroring at random). */
  failRandomly(rate: number, next: () => number = Math.random): void {
    this.#random = rate <= 0 ? null : { rate, next }
  }

  /** Tokens minted from now on live this long. */
  setLifetime(lifetimeMs: number | null): void {
    this.#lifetimeMs = lifetimeMs
  }

  /** A standard tool's secrets; null values are skipped, as the backend's are. */
  setToolSecrets(accountToolInstanceId: string, secrets: Readonly<Record<string, string | null>>): void {
    this.#toolSecrets.set(accountToolInstanceId, secrets)
  }

  /** How many tokens have been minted. */
  get minted(): number {
    return this.#minted
  }

  fetchOAuth(request: CredentialRequest): Effect.Effect<ReadonlyArray<OAuthCredential>, CredentialFetchFailed> {
    return Effect.suspend(() => {
      this.calls.push(request)
      return Effect.sleep(this.#latencyMs).pipe(
        Effect.andThen(Clock.currentTimeMillis),
        Effect.flatMap((now) => this.#answer(request, now)),
      )
    })
  }

  fetchToolSecrets(request: { readonly agentId: string; readonly accountToolInstanceId: string }): Effect.Effect<ReadonlyArray<EnvVar>, CredentialFetchFailed> {
    return Effect.suspend(() => {
      const secrets = this.#toolSecrets.get(request.accountToolInstanceId)
      if (secrets === undefined)
        return Effect.fail(
          new CredentialFetchFailed({ reason: "not_found", connectionId: null, detail: `no tool instance '${request.accountToolInstanceId}'` }),
        )
      return Effect.succeed(Object.entries(secrets).flatMap(([name, value]) => (value === null ? [] : [{ name, value: Redacted.make(value) }])))
    })
  }

  #answer(request: CredentialRequest, now: number): Effect.Effect<ReadonlyArray<OAuthCredential>, CredentialFetchFailed> {
    const injected = this.#failures.shift() ?? (this.#random !== null && this.#random.next() < this.#random.rate ? "unavailable" : undefined)
    if (injected !== undefined) return Effect.fail(new CredentialFetchFailed({ reason: injected, connectionId: null, detail: "injected failure" }))
    for (const id of request.connectionIds) {
      if (!this.#connections.has(id)) return Effect.fail(new CredentialFetchFailed({ reason: "not_found", connectionId: id, detail: "no such connection" }))
      if (this.#reauthorize.has(id))
        return Effect.fail(new CredentialFetchFailed({ reason: "reauthorization_required", connectionId: id, detail: "the user must sign in again" }))
    }
    return Effect.succeed(
      request.connectionIds.map((connectionId) => {
        const { provider, scopes } = this.#connections.get(connectionId)!
        this.#minted += 1
        const expiresAt = this.#lifetimeMs === null ? null : now + this.#lifetimeMs
        return { connectionId, provider, scopes, accessToken: Redacted.make(`token-${connectionId}-${this.#minted}`), tokenType: "Bearer", expiresAt }
      }),
    )
  }
}
