import * as Redacted from "effect/Redacted"
import type { EnvVar } from "./ManagedInstance.ts"

// Configuration, not secrets: masking their values would hide ordinary words and numbers.
const NOT_SECRET = new Set(["PORT", "HOST", "HOSTNAME", "NODE_ENV", "LOG_LEVEL", "DEBUG", "PATH", "HOME", "TZ", "LANG", "MEMORY_FILE_PATH"])
const SHORTEST_SECRET = 4

export const MASK = "********"

/** The values in `env` that could be secrets, longest first (so a value inside another is masked whole). */
export const secretValuesOf = (env: ReadonlyArray<EnvVar>): ReadonlyArray<string> =>
  env
    .filter((e) => !NOT_SECRET.has(e.name))
    .map((e) => Redacted.value(e.value))
    .filter((v) => v.length >= SHORTEST_SECRET)
    .sort((a, b) => b.length - a.length)

/** `text` with every occurrence of every secret replaced by a mask. */
export const maskSecrets = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets.reduce((masked, secret) => masked.split(secret).join(MASK), text)
