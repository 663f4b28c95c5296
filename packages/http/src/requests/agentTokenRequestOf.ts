import * as Result from "effect/Result"
import { parseGrantsClaim, type TokenRequest } from "@dtma/domain"
import { issueAgentTokenBody } from "./agentAccessSchemas.ts"
import { firstIssue } from "./deployRequestOf.ts"
import { InvalidRequest } from "./InvalidRequest.ts"

/**
 * The token a `POST /agent-tokens` body asks for: the schema first (no unknown key, anywhere), then
 * the grants as the domain reads a token's `grants` claim, so that a token is never signed with
 * grants its own verifier would refuse. The issuer checks the agent id and the lifetime against its
 * maximum. Every refusal names the field (`grants[1].tools[0]`) and what is wrong with it.
 */
export const agentTokenRequestOf = (raw: unknown): Result.Result<TokenRequest, InvalidRequest> => {
  const parsed = issueAgentTokenBody.safeParse(raw)
  if (!parsed.success) return Result.fail(firstIssue(parsed.error))
  const { agentId, grants, ttlSeconds } = parsed.data
  const read = parseGrantsClaim(grants)
  if (Result.isFailure(read)) return Result.fail(new InvalidRequest({ path: read.failure.where, problem: read.failure.problem }))
  return Result.succeed({ agentId, grants: read.success, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) })
}
