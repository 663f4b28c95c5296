import * as Effect from "effect/Effect"
import { InvalidInstanceSpec } from "./errors.ts"

const MAX_NAME_LENGTH = 200
// Control characters and the path separators that would break `/tools/:name` routes.
// oxlint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f/\\]/

/** Accepts a caller's instance name or says what is wrong with it. */
export const validateInstanceName = (name: string): Effect.Effect<string, InvalidInstanceSpec> => {
  if (name.trim().length === 0) {
    return Effect.fail(new InvalidInstanceSpec({ field: "name", problem: "must not be empty" }))
  }
  if (name.length > MAX_NAME_LENGTH) {
    return Effect.fail(new InvalidInstanceSpec({ field: "name", problem: `must be at most ${MAX_NAME_LENGTH} characters` }))
  }
  if (FORBIDDEN.test(name)) {
    return Effect.fail(new InvalidInstanceSpec({ field: "name", problem: "must not contain control characters, '/' or '\\'" }))
  }
  if (name === "." || name === "..") {
    return Effect.fail(new InvalidInstanceSpec({ field: "name", problem: "must not be '.' or '..' (URLs cannot address them)" }))
  }
  if (name !== name.trim()) {
    return Effect.fail(new InvalidInstanceSpec({ field: "name", problem: "must not start or end with white space" }))
  }
  return Effect.succeed(name)
}
