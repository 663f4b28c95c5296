import { randomBytes } from "node:crypto"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { HeldCallSeal, paramsDigest, type RequestBinding } from "../../src/mcpProxy/heldCallState.ts"
import { principalOf } from "../../src/mcpProxy/requestStateSeal.ts"

// The sealed requestState of the MRTR bridge (mrtr.mdx, "Server Requirements" 4–5): what it opens
// to, and everything it must refuse.

const json = fc.jsonValue({ maxDepth: 3 })
const arbParams = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((k) => !["_meta", "inputResponses", "requestState"].includes(k)),
  json,
  { maxKeys: 5 },
)
const arbPrincipal = fc.oneof(
  fc.constant("operator"),
  fc.record({ issuer: fc.webUrl(), sub: fc.string({ minLength: 1, maxLength: 32 }) }).map((a) => principalOf({ kind: "agent", ...a })),
)
const arbBinding: fc.Arbitrary<RequestBinding> = fc.record({
  principal: arbPrincipal,
  place: fc.string({ maxLength: 40 }),
  method: fc.constantFrom("tools/call", "prompts/get", "resources/read"),
  params: arbParams,
})
const arbSealed = fc.record({
  handle: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString("hex")),
  exp: fc.integer({ min: 1, max: 2 ** 45 }),
})

const seal = new HeldCallSeal()

describe("a requestState", () => {
  it("opens, before it expires, to the handle and expiry it was sealed with, for the caller and request it was sealed for", () => {
    fc.assert(
      fc.property(arbBinding, arbSealed, (binding, sealed) => {
        const state = seal.seal(binding, sealed)
        expect(state).toMatch(/^[A-Za-z0-9_-]+$/)
        expect(seal.open(state, binding, sealed.exp - 1)).toEqual({ ok: sealed })
      }),
    )
  })

  it("is refused with any bit of it flipped, or any character of it changed", () => {
    fc.assert(
      fc.property(arbBinding, arbSealed, fc.nat(), fc.nat({ max: 7 }), fc.nat(), (binding, sealed, at, bit, charAt) => {
        const state = seal.seal(binding, sealed)
        const bytes = Buffer.from(state, "base64url")
        bytes[at % bytes.length]! ^= 1 << bit
        expect(seal.open(bytes.toString("base64url"), binding, 0)).toEqual({ refused: "invalid" })
        const i = charAt % state.length
        const other = state[i] === "A" ? "B" : "A"
        expect(seal.open(state.slice(0, i) + other + state.slice(i + 1), binding, 0)).toEqual({ refused: "invalid" })
      }),
    )
  })

  it("is refused when another caller presents it, cut short, lengthened, or sealed by another process", () => {
    fc.assert(
      fc.property(arbBinding, arbSealed, arbPrincipal, (binding, sealed, other) => {
        fc.pre(other !== binding.principal)
        const state = seal.seal(binding, sealed)
        expect(seal.open(state, { ...binding, principal: other }, 0)).toEqual({ refused: "invalid" })
        expect(seal.open(state.slice(0, -1), binding, 0)).toEqual({ refused: "invalid" })
        expect(seal.open(`${state}A`, binding, 0)).toEqual({ refused: "invalid" })
        expect(new HeldCallSeal().open(state, binding, 0)).toEqual({ refused: "invalid" })
      }),
    )
  })

  it("is refused on another request: other params, another method, another endpoint or server", () => {
    fc.assert(
      fc.property(arbBinding, arbSealed, arbParams, (binding, sealed, params) => {
        fc.pre(paramsDigest(params) !== paramsDigest(binding.params))
        const state = seal.seal(binding, sealed)
        expect(seal.open(state, { ...binding, params }, 0)).toEqual({ refused: "mismatch" })
        expect(seal.open(state, { ...binding, method: binding.method === "tools/call" ? "prompts/get" : "tools/call" }, 0)).toEqual({ refused: "mismatch" })
        expect(seal.open(state, { ...binding, place: `${binding.place}x` }, 0)).toEqual({ refused: "mismatch" })
      }),
    )
  })

  it("is refused once expired, naming its handle (for its call to be cancelled)", () => {
    fc.assert(
      fc.property(arbBinding, arbSealed, fc.nat(), (binding, sealed, late) => {
        expect(seal.open(seal.seal(binding, sealed), binding, sealed.exp + late)).toEqual({ refused: "expired", handle: sealed.handle })
      }),
    )
  })

  it("is refused when it is anything but a state of the DTMA's: random bytes, other alphabets, too long", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.string(), (bytes, text) => {
        const binding: RequestBinding = { principal: "operator", place: "s s", method: "tools/call", params: {} }
        expect(seal.open(Buffer.from(bytes).toString("base64url"), binding, 0)).toEqual({ refused: "invalid" })
        expect(seal.open(text, binding, 0)).toEqual({ refused: "invalid" })
      }),
    )
    expect(seal.open("A".repeat(5000), { principal: "operator", place: "", method: "tools/call", params: {} }, 0)).toEqual({ refused: "invalid" })
  })

  it("keeps what it binds from the client: nothing of the handle, principal or request reads in it", () => {
    const binding: RequestBinding = {
      principal: principalOf({ kind: "agent", issuer: "https://issuer", sub: "agent-7" }),
      place: "s s",
      method: "tools/call",
      params: {},
    }
    const handle = randomBytes(16).toString("hex")
    const decoded = Buffer.from(seal.seal(binding, { handle, exp: 1 }), "base64url").toString("latin1")
    for (const secret of [handle, "agent-7", "tools/call", "issuer"]) expect(decoded).not.toContain(secret)
  })
})

describe("paramsDigest", () => {
  it("is the same whatever the order of keys and whatever a retry adds (_meta, inputResponses, requestState)", () => {
    fc.assert(
      fc.property(arbParams, json, (params, extra) => {
        const reversed = Object.fromEntries(Object.entries(params).reverse())
        expect(paramsDigest({ ...reversed, _meta: extra, inputResponses: extra, requestState: "x" })).toBe(paramsDigest(params))
      }),
    )
  })
})
