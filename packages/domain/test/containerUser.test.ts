import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { formatContainerUser, mcpServerUser, parseContainerUser, rootProblemOf, type ContainerUser, type IdOrName } from "../src/index.ts"
import { arbUserSpellingParts, type UserPartMeaning } from "@dtma/testing"

const partOf = (meaning: Exclude<UserPartMeaning, "malformed">): IdOrName =>
  "id" in meaning ? { _tag: "Id", id: meaning.id } : { _tag: "Name", name: meaning.name }
const isRootPart = (meaning: UserPartMeaning): boolean => meaning !== "malformed" && ("id" in meaning ? meaning.id === 0 : meaning.name === "root")

const arbIdOrName: fc.Arbitrary<IdOrName> = fc.oneof(
  fc.integer({ min: 0, max: 2_147_483_647 }).map((id) => ({ _tag: "Id" as const, id })),
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/).map((name) => ({ _tag: "Name" as const, name })),
)
const arbContainerUser: fc.Arbitrary<ContainerUser> = fc.record({ user: arbIdOrName, group: fc.option(arbIdOrName) })

describe("reading User as the runtime reads it", () => {
  it("reads every spelling as the ids and names it was built from, and refuses the ones the runtime cannot read", () => {
    fc.assert(
      fc.property(arbUserSpellingParts, ({ text, parts }) => {
        const parsed = parseContainerUser(text)
        const readable = parts.length <= 2 && parts.every((p) => p.meaning !== "malformed")
        expect({ text, readable: Result.isSuccess(parsed) }).toEqual({ text, readable })
        if (!readable || Result.isFailure(parsed)) return
        const [user, group] = parts.map((p) => partOf(p.meaning as Exclude<UserPartMeaning, "malformed">))
        expect(parsed.success).toEqual({ user, group: group ?? null })
      }),
      { numRuns: 2000 },
    )
  })

  it("refuses uid 0 and gid 0 however spelled, and a user named without a group, and nothing else", () => {
    fc.assert(
      fc.property(arbUserSpellingParts, ({ text, parts }) => {
        const parsed = parseContainerUser(text)
        if (Result.isFailure(parsed)) return
        const [user, group] = parts
        const namedAlone = group === undefined && user !== undefined && typeof user.meaning === "object" && "name" in user.meaning
        const expectRefused = isRootPart(user?.meaning ?? "malformed") || namedAlone || (group !== undefined && isRootPart(group.meaning))
        expect({ text, refused: rootProblemOf(parsed.success) !== null }).toEqual({ text, refused: expectRefused })
      }),
      { numRuns: 2000 },
    )
  })

  it("runs an MCP server given a uid alone with the group of the same number, and leaves any other user as given", () => {
    fc.assert(
      fc.property(arbContainerUser, (u) => {
        const given = mcpServerUser(u)
        if (u.group === null && u.user._tag === "Id") expect(given).toEqual({ user: u.user, group: u.user })
        else expect(given).toBe(u)
      }),
    )
    expect(formatContainerUser(mcpServerUser(Result.getOrThrow(parseContainerUser("+01234"))))).toBe("1234:1234")
  })

  it("names uid 0 or group 0 in the reason, whichever it is", () => {
    for (const [text, reason] of [
      ["00", "uid 0"],
      ["+0:1000", "uid 0"],
      ["root:node", "uid 0"],
      ["1000:-0", "group 0 (root)"],
      ["node:root", "group 0 (root)"],
      ["node", "names no group"],
    ] as const) {
      const parsed = parseContainerUser(text)
      expect(Result.isSuccess(parsed) && rootProblemOf(parsed.success)).toContain(reason)
    }
  })

  it("spells a user canonically and reads the canonical spelling back as the same user", () => {
    fc.assert(
      fc.property(arbContainerUser, (u) => {
        const text = formatContainerUser(u)
        expect(parseContainerUser(text)).toEqual(Result.succeed(u))
        expect(text).not.toMatch(/(^|:)[+-]|(^|:)0[0-9]/)
      }),
    )
  })

  it("answers any text with a user or a reason, never throwing, and keeps the reason short", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        const parsed = parseContainerUser(text)
        if (Result.isFailure(parsed)) expect(parsed.failure.length).toBeLessThan(200)
      }),
    )
  })

  it("says what is wrong with a malformed value", () => {
    const reasons: ReadonlyArray<readonly [string, RegExp]> = [
      ["", /is empty/],
      [" 0", /neither a decimal number nor a user name/],
      ["0x0", /neither a decimal number nor a user name/],
      ["a:b:c", /more than one ':'/],
      [":1000", /empty user part \(the runtime would run it as root\)/],
      ["1000:", /empty group part/],
      ["-1", /outside 0\.\.2147483647/],
      ["1000:2147483648", /group id "2147483648", outside/],
    ]
    for (const [text, reason] of reasons) {
      const parsed = parseContainerUser(text)
      expect(Result.isFailure(parsed) && parsed.failure).toMatch(reason)
    }
  })
})
