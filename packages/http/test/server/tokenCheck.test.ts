import { createHash } from "node:crypto"
import { Redacted } from "effect"
import { beforeEach, describe, expect, it, vi } from "vitest"
import { makeTokenCheck } from "../../src/server/auth.ts"

// Every call of node's timingSafeEqual is recorded (and still made): what the check compares, and how often.
const compared = vi.hoisted(() => [] as Array<readonly [Buffer, Buffer]>)
vi.mock("node:crypto", async (importOriginal) => {
  const crypto = await importOriginal<typeof import("node:crypto")>()
  return {
    ...crypto,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([Buffer.from(a as Uint8Array), Buffer.from(b as Uint8Array)])
      return crypto.timingSafeEqual(a, b)
    },
  }
})

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest()

beforeEach(() => {
  compared.length = 0
})

describe("the bearer token comparison", () => {
  it("compares tokens with crypto.timingSafeEqual over equal-length SHA-256 digests, against every configured token whatever matches", () => {
    const accepted = ["short", "a-much-longer-inbound-token-for-the-backend", "third"]
    const check = makeTokenCheck(accepted.map((t) => Redacted.make(t)))
    for (const presented of ["short", "", "x".repeat(10_000), "third", "shor"]) {
      compared.length = 0
      expect(check(presented)).toBe(accepted.includes(presented))
      // One constant-time comparison per configured token, even after a match: no early exit.
      expect(compared).toHaveLength(accepted.length)
      for (const [index, [candidate, configured]] of compared.entries()) {
        expect(candidate.length).toBe(32)
        expect(configured.length).toBe(32)
        expect(candidate.equals(sha256(presented))).toBe(true)
        expect(configured.equals(sha256(accepted[index]!))).toBe(true)
      }
    }
  })

  it("does not hash a token shaped as a JWT when no configured token is, and compares it as any other when one is", () => {
    const jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJl"
    expect(makeTokenCheck([Redacted.make("hex-operator-key")])(jwt)).toBe(false)
    expect(compared).toHaveLength(0)
    const shaped = makeTokenCheck([Redacted.make("hex-operator-key"), Redacted.make(jwt)])
    expect(shaped(jwt)).toBe(true)
    expect(shaped(`${jwt}x`)).toBe(false)
    expect(compared).toHaveLength(4)
    // Anything else is compared as before, whatever the keys look like.
    compared.length = 0
    expect(makeTokenCheck([Redacted.make("hex-operator-key")])("not.a-jwt.but dotted")).toBe(false)
    expect(compared).toHaveLength(1)
  })
})
