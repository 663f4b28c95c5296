import { describe, expect, it } from "vitest"
import { parseTokenIssuers } from "../../src/access/tokenIssuersConfig.ts"

describe("DTMA_AGENT_TOKEN_ISSUERS", () => {
  it("lists issuers by JWKS URL and by JWKS file", () => {
    const text = JSON.stringify([
      { issuer: "https://idp.example.com", jwksUrl: "https://idp.example.com/.well-known/jwks.json" },
      { issuer: "https://local", jwksUrl: "http://127.0.0.1:8080/jwks" },
      { issuer: "urn:other", jwksFile: "/etc/dtma/other.json" },
    ])
    expect(parseTokenIssuers(text)).toEqual({
      ok: true,
      issuers: [
        { issuer: "https://idp.example.com", keys: { jwksUrl: "https://idp.example.com/.well-known/jwks.json" } },
        { issuer: "https://local", keys: { jwksUrl: "http://127.0.0.1:8080/jwks" } },
        { issuer: "urn:other", keys: { jwksFile: "/etc/dtma/other.json" } },
      ],
    })
  })

  it("means no external issuer when unset or empty", () => {
    expect(parseTokenIssuers(undefined)).toEqual({ ok: true, issuers: [] })
    expect(parseTokenIssuers("  ")).toEqual({ ok: true, issuers: [] })
    expect(parseTokenIssuers("[]")).toEqual({ ok: true, issuers: [] })
  })

  it.each([
    ["not JSON", "[{", "is not JSON"],
    ["not a list", '{"issuer":"a","jwksFile":"/a"}', "must be a JSON list"],
    ["an item that is not an object", '["a"]', "item 1 must be an object"],
    ["an unknown field", '[{"issuer":"a","jwksFile":"/a","audience":"x"}]', "unknown field 'audience'"],
    ["no issuer", '[{"jwksFile":"/a"}]', "'issuer' must be a non-empty string"],
    ["both sources", '[{"issuer":"a","jwksFile":"/a","jwksUrl":"https://a"}]', "exactly one of"],
    ["no source", '[{"issuer":"a"}]', "exactly one of"],
    ["a plain-http URL off loopback", '[{"issuer":"a","jwksUrl":"http://idp.example.com/jwks"}]', "must be https"],
    ["a URL with credentials", '[{"issuer":"a","jwksUrl":"https://u:p@idp/jwks"}]', "must not carry credentials"],
    ["a relative URL", '[{"issuer":"a","jwksUrl":"/jwks"}]', "not an absolute URL"],
    ["a relative file", '[{"issuer":"a","jwksFile":"jwks.json"}]', "absolute path"],
    ["an issuer twice", '[{"issuer":"a","jwksFile":"/a"},{"issuer":"a","jwksFile":"/b"}]', "item 2: issuer 'a' is listed twice"],
    ["the built-in issuer", '[{"issuer":"https://dtma:30000","jwksFile":"/a"}]', "built-in issuer"],
  ])("is refused when it holds %s, saying what is wrong", (_, text, problem) => {
    const setting = parseTokenIssuers(text, "https://dtma:30000")
    expect(setting.ok).toBe(false)
    if (!setting.ok) expect(setting.problem).toMatch(new RegExp(`^DTMA_AGENT_TOKEN_ISSUERS: .*${problem.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`))
  })

  it("is refused past 16 issuers", () => {
    const text = JSON.stringify(Array.from({ length: 17 }, (_, i) => ({ issuer: `i${i}`, jwksFile: "/a" })))
    expect(parseTokenIssuers(text)).toMatchObject({ ok: false, problem: expect.stringContaining("more than 16") })
  })
})
