import * as Effect from "effect/Effect"
import type { CredentialFetchFailed, CredentialSource } from "../ports/CredentialSource.ts"
import type { DeployRequest } from "./deployRequest.ts"

/**
 * A standard tool's request with the secrets the backend keeps for it (legacy
 * `get-agent-tool-credentials`) added as environment variables. A variable the caller set itself
 * is kept: the caller's `Env` wins. Values stay `Redacted`, so they are masked like every env value.
 */
export const withToolSecrets = (source: CredentialSource, request: DeployRequest, agentId: string): Effect.Effect<DeployRequest, CredentialFetchFailed> =>
  source.fetchToolSecrets({ agentId, accountToolInstanceId: request.accountToolInstanceId ?? request.name }).pipe(
    Effect.map((secrets) => {
      const given = new Set(request.env.map((e) => e.name))
      return { ...request, env: [...request.env, ...secrets.filter((s) => !given.has(s.name))] }
    }),
  )
