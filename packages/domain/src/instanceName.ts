import * as Effect from "effect/Effect"
import { InvalidInstanceSpec } from "./errors.ts"

const MAX_NAME_LENGTH = 200
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
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

/** 32-bit FNV-1a, hex: a short stable suffix that keeps mapped names distinct. */
const fnv1a = (text: string): string => {
  let hash = 0x811c9dc5
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash.toString(16).padStart(8, "0")
}

/**
 * The Docker container name of an instance: the name itself when Docker accepts it, otherwise a
 * valid name derived from it plus a hash of the original (callers send names with spaces).
 */
export const containerNameFor = (name: string): string => {
  if (DOCKER_NAME.test(name) && name.length <= 128) return name
  const cleaned = name
    .normalize("NFKD")
    .replace(/[^a-zA-Z0-9_.-]+/g, "-")
    .replace(/^[^a-zA-Z0-9]+/, "")
    .slice(0, 100)
  return `${cleaned === "" ? "instance" : cleaned}-${fnv1a(name)}`
}
