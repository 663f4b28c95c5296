import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { CredentialFetchFailed, type CredentialRequest, type CredentialSource } from "@dtma/domain"
import { isTransientStatus, postToBackend, type BackendAnswer, type BackendEndpoint } from "./backendPost.ts"
import { failureOfAnswer, failureOfUnreachable, invalidBody } from "./credentialFailure.ts"
import { errorCodeOf, oauthRequestBody, parseOAuthCredentials, parseToolSecrets, type Parsed } from "./credentialsBody.ts"

/** Where the backend is, how long one request may take, and how hard to insist when it is down. */
export interface AgentopiaCredentialSourceOptions extends BackendEndpoint {
  /** Path of the OAuth credentials function under `baseUrl`; default `get-mcp-oauth-credentials`. */
  readonly oauthPath?: string
  /** Retries after the first attempt, on transient failures only (unreachable, timeout, 5xx, 408, 429). */
  readonly retries: number
  /** First backoff delay; doubles each retry, with jitter. */
  readonly retryBaseMs: number
}

const TOOL_SECRETS_PATH = "get-agent-tool-credentials"
const LEGACY_TOOL_SECRETS_PATH = "fetch-tool-secrets"

const isSuccess = (status: number): boolean => status >= 200 && status < 300

/** A failure of the whole request (401, 5xx, timeout, unreachable) names no connection: say which ones it was for. */
const forConnections =
  (ids: ReadonlyArray<string>) =>
  (e: CredentialFetchFailed): CredentialFetchFailed =>
    e.connectionId !== null || ids.length === 0
      ? e
      : new CredentialFetchFailed({
          reason: e.reason,
          connectionId: null,
          detail: `${e.detail} (asked for connection${ids.length === 1 ? "" : "s"} ${ids.map((id) => `'${id}'`).join(", ")})`,
        })

/**
 * The Agentopia backend as the `CredentialSource`. Each request is bounded by `timeoutMs`; transient
 * failures are retried with exponential backoff and jitter, refusals (401, 403, 404, 409) never.
 * No error message quotes a body or the DTMA token.
 */
export const makeAgentopiaCredentialSource = (options: AgentopiaCredentialSourceOptions): CredentialSource => {
  const oauthPath = options.oauthPath ?? "get-mcp-oauth-credentials"

  /** The first non-transient answer, of any status; transient ones are failures, retried. */
  const answerOf = (path: string, body: unknown): Effect.Effect<BackendAnswer, CredentialFetchFailed> =>
    postToBackend(options, path, body).pipe(
      Effect.mapError((e) => failureOfUnreachable(path, e)),
      Effect.flatMap((answer) => (isTransientStatus(answer.status) ? Effect.fail(failureOfAnswer(path, answer)) : Effect.succeed(answer))),
      Effect.retry({
        schedule: Schedule.exponential(options.retryBaseMs).pipe(Schedule.jittered),
        times: options.retries,
        while: (e: CredentialFetchFailed) => e.transient,
      }),
    )

  const settle = <A>(
    path: string,
    answer: BackendAnswer,
    parse: (text: string) => Parsed<A>,
    asked: ReadonlyArray<string> = [],
  ): Effect.Effect<A, CredentialFetchFailed> => {
    if (!isSuccess(answer.status)) return Effect.fail(failureOfAnswer(path, answer, asked))
    const parsed = parse(answer.text)
    return parsed.ok ? Effect.succeed(parsed.value) : Effect.fail(invalidBody(path, answer, parsed.problem))
  }

  return {
    fetchOAuth: (request: CredentialRequest) =>
      answerOf(oauthPath, oauthRequestBody(request)).pipe(
        Effect.flatMap((answer) => settle(oauthPath, answer, parseOAuthCredentials, request.connectionIds)),
        Effect.mapError(forConnections(request.connectionIds)),
      ),

    fetchToolSecrets: ({ agentId, accountToolInstanceId }) =>
      answerOf(TOOL_SECRETS_PATH, { agentId, accountToolInstanceId }).pipe(
        Effect.flatMap((answer) =>
          isRouteMissing(answer)
            ? answerOf(LEGACY_TOOL_SECRETS_PATH, { tool_instance_db_id: accountToolInstanceId }).pipe(
                Effect.flatMap((legacy) => settle(LEGACY_TOOL_SECRETS_PATH, legacy, parseToolSecrets)),
              )
            : settle(TOOL_SECRETS_PATH, answer, parseToolSecrets),
        ),
      ),
  }
}

/**
 * A 404 from the function itself ("tool not in the agent's toolbelt") is JSON with an `error` field;
 * a 404 without one (a gateway's "function not found", an HTML page, nothing) means an older backend
 * without the route, which is asked in the older form instead.
 */
export const isRouteMissing = (answer: BackendAnswer): boolean => answer.status === 404 && errorCodeOf(answer.text) === null
