import fc from "fast-check"
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { MASK, maskSecrets, secretValuesOf } from "../src/index.ts"

const env = (entries: Record<string, string>) => Object.entries(entries).map(([name, value]) => ({ name, value: Redacted.make(value) }))

describe("masking secrets in what a server prints", () => {
  it("leaves no occurrence of any secret, wherever it stands in the text", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 4, maxLength: 20 }), { minLength: 1, maxLength: 4 }), fc.array(fc.string(), { maxLength: 6 }), (secrets, filler) => {
        const text = filler.flatMap((f, i) => [f, secrets[i % secrets.length]!]).join("")
        const masked = maskSecrets(text, secretValuesOf(env(Object.fromEntries(secrets.map((v, i) => [`K${i}`, v])))))
        for (const secret of secrets) if (!MASK.includes(secret)) expect(masked).not.toContain(secret)
      }),
    )
  })

  it("masks a secret inside a longer one whole, and keeps ordinary configuration visible", () => {
    const secrets = secretValuesOf(env({ TOKEN: "abcd", LONG: "xxabcdxx", PORT: "3001", SHORT: "ab" }))
    expect(secrets).toEqual(["xxabcdxx", "abcd"])
    expect(maskSecrets("token=xxabcdxx other=abcd port=3001 ab", secrets)).toBe(`token=${MASK} other=${MASK} port=3001 ab`)
  })
})
