import fc from "fast-check"
import * as Redacted from "effect/Redacted"
import type { DeployRequest, LifecycleEvent, LifecycleState } from "@dtma/domain"

export const lifecycleStates: ReadonlyArray<LifecycleState> = [
  "deploying",
  "starting",
  "running",
  "stopping",
  "stopped",
  "exited",
  "failed",
  "removing",
  "removed",
]

export const arbLifecycleState = fc.constantFrom(...lifecycleStates)

export const arbLifecycleEvent: fc.Arbitrary<LifecycleEvent> = fc
  .constantFrom(
    "StartRequested",
    "StopRequested",
    "RemoveRequested",
    "ContainerStarted",
    "StartFailed",
    "ContainerStopped",
    "ContainerDied",
    "ContainerRemoved",
  )
  .map((_tag) => ({ _tag }) as LifecycleEvent)

/** Names callers really send: Docker-valid ones and ones with spaces and other characters. */
export const arbInstanceName = fc.oneof(
  fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}$/),
  fc
    .tuple(fc.stringMatching(/^[A-Za-z0-9]{1,12}$/), fc.constantFrom(" ", "  ", "é", ":", "+"), fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/))
    .map((parts) => parts.join("")),
)

export const arbDeployRequest = (image: string): fc.Arbitrary<DeployRequest> =>
  fc.record({
    name: arbInstanceName,
    accountToolInstanceId: fc.uuid(),
    image: fc.constant(image),
    env: fc
      .uniqueArray(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), { maxLength: 3 })
      .map((names) => names.map((name) => ({ name, value: Redacted.make(`secret-${name}`) }))),
    ports: fc.constant([]),
  })

const LINE_BREAKS = ["\n", "\r\n", "\r"] as const
const REGEX_METACHARACTERS = [".", "*", "+", "?", "^", "$", "{", "}", "(", ")", "|", "[", "]", "\\", "/"] as const

/** A piece of a secret's line: base64-like text, a regex metacharacter, a tab, a quote, a space or unicode. */
const arbSecretPiece = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9+/]{1,16}$/),
  fc.constantFrom(...REGEX_METACHARACTERS, "\t", '"', " "),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 3 }),
)

/** A PEM-like block (the markers are built here: no key-like literal in the source), with a base64 body. */
const arbPemLike = fc
  .record({
    label: fc.constantFrom("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "CERTIFICATE"),
    body: fc.array(fc.stringMatching(/^[A-Za-z0-9+/]{64}$/), { minLength: 1, maxLength: 6 }),
    last: fc.stringMatching(/^[A-Za-z0-9+/]{0,62}={0,2}$/),
    lineBreak: fc.constantFrom(...LINE_BREAKS),
    trailing: fc.boolean(),
  })
  .map(({ label, body, last, lineBreak, trailing }) => {
    const lines = [`${"-".repeat(5)}BEGIN ${label}${"-".repeat(5)}`, ...body, ...(last === "" ? [] : [last]), `${"-".repeat(5)}END ${label}${"-".repeat(5)}`]
    return lines.join(lineBreak) + (trailing ? lineBreak : "")
  })

/** Lines of pieces joined by one kind of line break, some lines short, some indented. */
const arbLinesSecret = fc
  .record({
    lines: fc.array(
      fc.array(arbSecretPiece, { minLength: 1, maxLength: 6 }).map((pieces) => pieces.join("")),
      { minLength: 2, maxLength: 5 },
    ),
    lineBreak: fc.constantFrom(...LINE_BREAKS),
    trailing: fc.boolean(),
  })
  .map(({ lines, lineBreak, trailing }) => lines.join(lineBreak) + (trailing ? lineBreak : ""))

/**
 * Secret values that span lines, as servers are given them: PEM-like keys and multi-line tokens,
 * with `\n`, `\r\n` or `\r` line breaks, regex metacharacters, tabs, quotes and unicode.
 */
export const arbMultiLineSecret: fc.Arbitrary<string> = fc.oneof(arbPemLike, arbLinesSecret)
/** What one part of a `User` spelling was built from: an id, a name, or text the runtime cannot read as either. */
export type UserPartMeaning = { readonly id: number } | { readonly name: string } | "malformed"

/** A `User` spelling and the parts it was built from (split at ':'). */
export interface UserSpelling {
  readonly text: string
  readonly parts: ReadonlyArray<{ readonly text: string; readonly meaning: UserPartMeaning }>
}

const MAX_USER_ID = 2_147_483_647

/** An id as runc's Atoi reads it: an optional sign and leading zeros; a minus sign only keeps 0 an id. */
const arbIdPart = fc
  .record({
    id: fc.oneof(
      { arbitrary: fc.constant(0), weight: 4 },
      { arbitrary: fc.constantFrom(1, 1000, 65534), weight: 3 },
      { arbitrary: fc.integer({ min: 1, max: MAX_USER_ID }), weight: 2 },
      { arbitrary: fc.constantFrom(MAX_USER_ID + 1, 4_294_967_295, 4_294_967_296), weight: 1 },
    ),
    sign: fc.constantFrom("", "", "", "+", "-"),
    zeros: fc.nat({ max: 3 }),
  })
  .map(({ id, sign, zeros }) => ({
    text: `${sign}${"0".repeat(zeros)}${id}`,
    meaning: (sign === "-" && id !== 0) || id > MAX_USER_ID ? ("malformed" as const) : { id },
  }))

const arbNamePart = fc
  .oneof(fc.constantFrom("root", "node", "nobody", "nogroup"), fc.stringMatching(/^[a-z_][a-z0-9_.-]{0,8}$/))
  .map((name) => ({ text: name, meaning: { name } }))

// Neither a number nor a name: what Docker looks up as a name and does not find (or runc ignores).
const arbMalformedPart = fc
  .constantFrom("", " 0", "0 ", "\t0", "0x0", "1e3", "1_000", "0.0", "nöde", "a b", "99999999999999999999", "١", "-")
  .map((text) => ({ text, meaning: "malformed" as const }))

const arbUserPart = fc.oneof({ arbitrary: arbIdPart, weight: 5 }, { arbitrary: arbNamePart, weight: 3 }, { arbitrary: arbMalformedPart, weight: 1 })

/** Spellings of `User` Docker accepts and refuses: ids with signs and leading zeros, names, groups, empty and extra parts. */
export const arbUserSpellingParts: fc.Arbitrary<UserSpelling> = fc
  .oneof(
    { arbitrary: fc.array(arbUserPart, { minLength: 1, maxLength: 2 }), weight: 9 },
    { arbitrary: fc.array(arbUserPart, { minLength: 3, maxLength: 3 }), weight: 1 },
  )
  .map((parts) => ({ text: parts.map((p) => p.text).join(":"), parts }))

export const arbUserSpelling: fc.Arbitrary<string> = arbUserSpellingParts.map((s) => s.text)
