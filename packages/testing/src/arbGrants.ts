import fc from "fast-check"
import { parseGrantsClaim, type GrantClaim, type Grants, type ServerRef } from "@dtma/domain"

// Small alphabets, so that generated grants and the servers and names asked about meet often.
const SERVERS = ["github-main", "memory", "fs", "web search", "ünï/cöde"] as const
const ATIS = ["ati-1", "ati-2", "ati-3"] as const

export const arbServerName = fc.constantFrom(...SERVERS)
export const arbAccountToolInstanceId = fc.constantFrom(...ATIS)

/** A tool or prompt name, from an alphabet small enough that prefixes often match. */
export const arbItemName = fc.stringMatching(/^[ab_]{1,4}$/)

/** A name pattern: a name, a prefix of one followed by `*`, or `*` alone. */
export const arbPattern = fc.oneof(
  { weight: 3, arbitrary: arbItemName },
  { weight: 2, arbitrary: fc.stringMatching(/^[ab_]{1,3}$/).map((p) => `${p}*`) },
  { weight: 1, arbitrary: fc.constant("*") },
)

const arbPatterns = fc.option(fc.uniqueArray(arbPattern, { maxLength: 4 }), { nil: undefined })

/** One item of a `grants` claim, as an issuer writes it (fields left out where the issuer would). */
export const arbGrantClaim: fc.Arbitrary<GrantClaim> = fc
  .record({
    target: fc.oneof(
      arbServerName.map((server) => ({ server })),
      arbAccountToolInstanceId.map((accountToolInstanceId) => ({ accountToolInstanceId })),
    ),
    tools: arbPatterns,
    prompts: arbPatterns,
    resources: fc.option(fc.boolean(), { nil: undefined }),
  })
  .map(({ target, tools, prompts, resources }) => ({
    ...target,
    ...(tools === undefined ? {} : { tools }),
    ...(prompts === undefined ? {} : { prompts }),
    ...(resources === undefined ? {} : { resources }),
  }))

const targetKey = (c: GrantClaim): string => (c.server !== undefined ? `s:${c.server}` : `a:${c.accountToolInstanceId}`)

/** A valid `grants` claim: at most one item per server name or account tool instance id. */
export const arbGrantsClaim: fc.Arbitrary<ReadonlyArray<GrantClaim>> = fc.uniqueArray(arbGrantClaim, { maxLength: 5, selector: targetKey })

const parsed = (claim: ReadonlyArray<GrantClaim>): Grants => {
  const result = parseGrantsClaim(claim)
  if (result._tag === "Failure") throw new Error(`arbGrantsClaim produced an invalid claim: ${result.failure.message}`)
  return result.success
}

/** Grants, as parsed from a valid claim. */
export const arbGrants: fc.Arbitrary<Grants> = arbGrantsClaim.map(parsed)

/** Grants the `scope` form can spell: servers by name, each either whole or tools only. */
export const arbScopeExpressibleClaim: fc.Arbitrary<ReadonlyArray<GrantClaim>> = fc.uniqueArray(
  fc.oneof(
    arbServerName.map((server): GrantClaim => ({ server })),
    fc
      .tuple(arbServerName, fc.uniqueArray(arbPattern, { minLength: 1, maxLength: 4 }))
      .map(([server, tools]): GrantClaim => ({ server, tools, prompts: [], resources: false })),
  ),
  { maxLength: 4, selector: targetKey },
)

/** A server as a decision sees it: one of the names grants use, with or without an account tool instance. */
export const arbServerRef: fc.Arbitrary<ServerRef> = fc.record({
  name: arbServerName,
  accountToolInstanceId: fc.option(arbAccountToolInstanceId, { nil: null }),
})
