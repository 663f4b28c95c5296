import { createHash } from "node:crypto"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { sha256 } from "../../src/mcp/sha256.ts"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

describe("sha256", () => {
  it("gives the FIPS 180-4 example digests", () => {
    expect(hex(sha256(new TextEncoder().encode("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    expect(hex(sha256(new Uint8Array()))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  })

  it("agrees with node's crypto on any bytes, across block boundaries", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.integer({ min: 50, max: 130 }).map((n) => new Uint8Array(n).fill(n)),
        ),
        (bytes) => {
          expect(hex(sha256(bytes))).toBe(createHash("sha256").update(bytes).digest("hex"))
        },
      ),
      { numRuns: 1000 },
    )
  })
})
