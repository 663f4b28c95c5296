import * as Effect from "effect/Effect"
import { InvalidInstanceSpec } from "./errors.ts"

const MAX_NAME_LENGTH = 200
// Control characters and the path separators that would break `/tools/:name` routes.
// oxlint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f/\\]/

/** What is wrong with a caller's instance name, or null when it is one. */
export const instanceNameProblem = (name: string): string | null => {
  if (name.trim().length === 0) return "must not be empty"
  if (name.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters`
  if (FORBIDDEN.test(name)) return "must not contain control characters, '/' or '\\'"
  if (name === "." || name === "..") return "must not be '.' or '..' (URLs cannot address them)"
  if (name !== name.trim()) return "must not start or end with white space"
  return null
}

/** Accepts a caller's instance name or says what is wrong with it. */
export const validateInstanceName = (name: string): Effect.Effect<string, InvalidInstanceSpec> => {
  const problem = instanceNameProblem(name)
  return problem === null ? Effect.succeed(name) : Effect.fail(new InvalidInstanceSpec({ field: "name", problem }))
}

/**
 * The instance name of an agent's own instance of a `per_agent` server. It holds a `/`, which no
 * caller's name may (`instanceNameProblem`), so it never collides with a name a caller chose.
 */
export const isolatedInstanceName = (isolated: { readonly server: string; readonly agent: string }): string => `${isolated.server}/${isolated.agent}`
