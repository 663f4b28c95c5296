import * as Redacted from "effect/Redacted"
import type { EnvVar } from "./ManagedInstance.ts"

// Configuration, not secrets: masking their values would hide ordinary words and numbers.
const NOT_SECRET = new Set(["PORT", "HOST", "HOSTNAME", "NODE_ENV", "LOG_LEVEL", "DEBUG", "PATH", "HOME", "TZ", "LANG", "MEMORY_FILE_PATH"])
/**
 * The shortest value, or line of a multi-line value, that is masked. A shorter one (`ok`, `}`, `==`,
 * a PEM's padding) tells next to nothing about the secret, and masking it would mask ordinary words
 * and numbers wherever they stand.
 */
export const SHORTEST_SECRET = 4

export const MASK = "********"

const LINE_BREAK = /\r\n|\r|\n/

/** The values in `env` that could be secrets, longest first (so a value inside another is masked whole). */
export const secretValuesOf = (env: ReadonlyArray<EnvVar>): ReadonlyArray<string> =>
  env
    .filter((e) => !NOT_SECRET.has(e.name))
    .map((e) => Redacted.value(e.value))
    .filter((v) => v.length >= SHORTEST_SECRET)
    .sort((a, b) => b.length - a.length)

/** `text` as a JSON string literal holds it, without the quotes: how `JSON.stringify(process.env)` prints a value. */
const jsonEscaped = (text: string): string => JSON.stringify(text).slice(1, -1)

/**
 * What to look for to mask `values`: each value whole; each line of it (trimmed, at least
 * `SHORTEST_SECRET` characters), since output is read line by line and a multi-line value (a PEM
 * key) never stands whole in one line; and the JSON-escaped form of each, since a value printed as
 * JSON has its newlines, tabs and quotes escaped. Distinct, longest first.
 */
export const secretFragmentsOf = (values: ReadonlyArray<string>): ReadonlyArray<string> => {
  const fragments = new Set<string>()
  const add = (fragment: string) => fragments.add(fragment).add(jsonEscaped(fragment))
  for (const value of values) {
    if (value === "") continue
    add(value)
    for (const line of value.split(LINE_BREAK)) {
      const trimmed = line.trim()
      if (trimmed.length >= SHORTEST_SECRET) add(trimmed)
    }
  }
  return [...fragments].sort((a, b) => b.length - a.length)
}

/**
 * A function that replaces, in a text, every stretch covered by occurrences of `values` or of their
 * fragments (`secretFragmentsOf`) with `mask`: overlapping or adjacent occurrences become one mask, so
 * no part of any of them survives. The fragments are worked out once, here; each text is then
 * scanned once per fragment and rebuilt once.
 */
export const maskerOf = (values: ReadonlyArray<string>, mask: string = MASK): ((text: string) => string) => {
  const fragments = secretFragmentsOf(values)
  if (fragments.length === 0) return (text) => text
  return (text) => {
    // covered[i]: where the furthest occurrence starting at i ends.
    const covered = new Map<number, number>()
    for (const fragment of fragments) {
      for (let at = text.indexOf(fragment); at >= 0; at = text.indexOf(fragment, at + 1)) {
        covered.set(at, Math.max(covered.get(at) ?? 0, at + fragment.length))
      }
    }
    if (covered.size === 0) return text
    let masked = ""
    let kept = 0
    let end = -1
    for (const start of [...covered.keys()].sort((a, b) => a - b)) {
      if (start > end) {
        if (end >= 0) masked += mask
        masked += text.slice(kept, start)
      }
      end = Math.max(end, covered.get(start)!)
      kept = end
    }
    return masked + mask + text.slice(kept)
  }
}

/** `text` with every occurrence of every secret, and of every line of a multi-line one, replaced by a mask. */
export const maskSecrets = (text: string, secrets: ReadonlyArray<string>): string => maskerOf(secrets)(text)
