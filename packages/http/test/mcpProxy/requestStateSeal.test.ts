import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { makeRequestStateSeal } from "../../src/mcpProxy/requestStateSeal.ts"

const seal = makeRequestStateSeal()

describe("a sealed requestState", () => {
  it("opens to the server's state under the binding it was sealed with, and hides it", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.string(), (state, binding) => {
        const sealed = seal.seal(state, binding)
        expect(seal.open(sealed, binding)).toBe(state)
        if (state.length >= 4) expect(sealed).not.toContain(state)
      }),
    )
  })

  it("does not open under another binding (another server or caller), nor under another process's key", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (state, binding, other) => {
        fc.pre(binding !== other)
        const sealed = seal.seal(state, binding)
        expect(seal.open(sealed, other)).toBeNull()
        expect(makeRequestStateSeal().open(sealed, binding)).toBeNull()
      }),
    )
  })

  it("does not open once any bit of it is flipped, nor when it is not a seal at all", () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(), fc.integer({ min: 0, max: 7 }), (state, at, bit) => {
        const bytes = Buffer.from(seal.seal(state, "b"), "base64url")
        const i = at % bytes.length
        bytes[i] = bytes[i]! ^ (1 << bit)
        expect(seal.open(bytes.toString("base64url"), "b")).toBeNull()
      }),
    )
    for (const junk of ["", "greet-1", "!!!", "AAAA"]) expect(seal.open(junk, "b")).toBeNull()
  })
})
