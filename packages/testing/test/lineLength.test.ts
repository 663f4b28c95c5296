import fc from "fast-check"
import { describe, expect, it } from "vitest"
// @ts-expect-error: a plain .mjs script without types
import { LIMIT, longLines } from "../../../scripts/check-line-length.mjs"

const EMOJI = "😀"

describe("the line-length check", () => {
  it("has a limit of 160 characters", () => {
    expect(LIMIT).toBe(160)
  })

  it("passes a line of 160 characters and names a line of 161 with its number and length", () => {
    expect(longLines("a.ts", "a".repeat(160))).toEqual([])
    expect(longLines("a.ts", `short\n${"a".repeat(161)}\nshort`)).toEqual(["a.ts:2 (161 characters)"])
  })

  it("counts characters as code points, so an emoji counts once", () => {
    expect(EMOJI.length).toBe(2)
    expect(longLines("a.ts", `${"a".repeat(159)}${EMOJI}`)).toEqual([])
    expect(longLines("a.ts", `${"a".repeat(160)}${EMOJI}`)).toEqual(["a.ts:1 (161 characters)"])
    expect(longLines("a.ts", EMOJI.repeat(160))).toEqual([])
    expect(longLines("a.ts", EMOJI.repeat(161))).toEqual(["a.ts:1 (161 characters)"])
  })

  it("names exactly the lines over the limit, whatever their characters", () => {
    // Each line is a list of characters, one code point each: its length is the list's.
    const line = fc.array(fc.constantFrom("a", " ", "é", "→", EMOJI, "𝔸"), { minLength: 150, maxLength: 170 })
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), (lines) => {
        const expected = lines.flatMap((cs, i) => (cs.length > 160 ? [`f.ts:${i + 1} (${cs.length} characters)`] : []))
        expect(longLines("f.ts", lines.map((cs) => cs.join("")).join("\n"))).toEqual(expected)
      }),
    )
  })
})
