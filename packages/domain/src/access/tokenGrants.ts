import * as Result from "effect/Result"
import type { Grants } from "./grants.ts"
import { InvalidGrants, parseGrantsClaim } from "./grantsClaim.ts"
import { parseGrantsScope } from "./grantsScope.ts"

const carriesDtmaScope = (scope: string): boolean => scope.split(/\s+/).some((s) => s.startsWith("dtma:"))

/**
 * The grants a verified token's claims carry. The `grants` claim, else `scope`; a token with
 * neither (or a scope with no `dtma:` value) carries no grants: it is a valid identity that may
 * use nothing. A token with both a `grants` claim and `dtma:` scope values is refused: two
 * statements of one thing that may disagree, and guessing which one the issuer meant is how access
 * leaks. `scope` must be a string (RFC 8693 §4.2, RFC 9068 §2.2.3).
 */
export const grantsOfClaims = (claims: { readonly grants?: unknown; readonly scope?: unknown }): Result.Result<Grants, InvalidGrants> => {
  const { grants, scope } = claims
  if (scope !== undefined && typeof scope !== "string") return Result.fail(new InvalidGrants({ where: "scope", problem: "must be a space-separated string" }))
  if (grants !== undefined) {
    if (scope !== undefined && carriesDtmaScope(scope)) {
      return Result.fail(new InvalidGrants({ where: "scope", problem: "holds dtma: values beside a grants claim (say the grants once)" }))
    }
    return parseGrantsClaim(grants)
  }
  return scope === undefined ? Result.succeed([]) : parseGrantsScope(scope)
}
