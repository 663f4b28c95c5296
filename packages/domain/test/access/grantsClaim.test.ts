import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { InvalidGrants, MAX_GRANTS, MAX_PATTERNS, parseGrantsClaim } from "../../src/access/grantsClaim.ts"
import { grantsOfClaims } from "../../src/access/tokenGrants.ts"

const refusalOf = (value: unknown) => {
  const result = parseGrantsClaim(value)
  if (result._tag === "Success") throw new Error(`expected a refusal, got ${JSON.stringify(result.success)}`)
  return result.failure
}

describe("the grants claim", () => {
  it.each([
    ["not a list", { server: "x" }, "grants", "must be a list"],
    ["an item that is not an object", ["x"], "grants[0]", "must be an object"],
    ["an item naming no server", [{ tools: ["a"] }], "grants[0]", "must name a server"],
    ["an item naming its server both ways", [{ server: "x", accountToolInstanceId: "a" }], "grants[0]", "not both"],
    ["an empty server name", [{ server: "" }], "grants[0].server", "must not be empty"],
    ["a server name that is not a string", [{ server: 7 }], "grants[0].server", "must be a string"],
    ["an over-long server name", [{ server: "s".repeat(201) }], "grants[0].server", "at most 200"],
    ["an empty account tool instance id", [{ accountToolInstanceId: "" }], "grants[0].accountToolInstanceId", "must not be empty"],
    ["a misspelt field", [{ server: "x", tool: ["a"] }], "grants[0]", "unknown field 'tool'"],
    ["tools that are not a list", [{ server: "x", tools: "a" }], "grants[0].tools", "must be a list"],
    ["a tool that is not a string", [{ server: "x", tools: ["a", 1] }], "grants[0].tools[1]", "must be a string"],
    ["an empty pattern", [{ server: "x", prompts: [""] }], "grants[0].prompts[0]", "must not be empty"],
    ["a * before the end", [{ server: "x", tools: ["a*b"] }], "grants[0].tools[0]", "only as its last character"],
    ["two *", [{ server: "x", tools: ["a**"] }], "grants[0].tools[0]", "only as its last character"],
    ["a repeated pattern", [{ server: "x", tools: ["a", "a"] }], "grants[0].tools[1]", "repeats 'a'"],
    ["resources that are not a boolean", [{ server: "x", resources: "yes" }], "grants[0].resources", "true or false"],
    ["two items for one server", [{ server: "x" }, { server: "x", tools: [] }], "grants[1]", "names server 'x' again"],
    [
      "two items for one account tool instance",
      [{ accountToolInstanceId: "a" }, { accountToolInstanceId: "a" }],
      "grants[1]",
      "names accountToolInstanceId 'a' again",
    ],
    ["too many items", Array.from({ length: MAX_GRANTS + 1 }, (_, i) => ({ server: `s${i}` })), "grants", `at most ${MAX_GRANTS} items`],
    [
      "too many patterns",
      [{ server: "x", tools: Array.from({ length: MAX_PATTERNS + 1 }, (_, i) => `t${i}`) }],
      "grants[0].tools",
      `at most ${MAX_PATTERNS} names`,
    ],
  ])("is refused when it holds %s, saying where and what", (_, value, where, problem) => {
    const error = refusalOf(value)
    expect(error).toBeInstanceOf(InvalidGrants)
    expect(error.where).toBe(where)
    expect(error.problem).toContain(problem)
    expect(error.message).toBe(`Invalid grants: ${where} ${error.problem}`)
  })

  it("allows one item per server name and one per account tool instance, even if they are one server", () => {
    const result = parseGrantsClaim([{ server: "x" }, { accountToolInstanceId: "x" }])
    expect(result._tag).toBe("Success")
  })

  it("accepts an empty list as allowing nothing", () => {
    expect(parseGrantsClaim([])).toMatchObject({ _tag: "Success", success: [] })
  })

  it("reads any JSON value without throwing: grants or a refusal", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(["Success", "Failure"]).toContain(parseGrantsClaim(value)._tag)
        expect(["Success", "Failure"]).toContain(parseGrantsClaim([value])._tag)
      }),
    )
  })
})

describe("the grants of a token", () => {
  it("come from the grants claim when there is one", () => {
    expect(grantsOfClaims({ grants: [{ server: "x" }], scope: "openid profile" })).toMatchObject({ _tag: "Success", success: [{ target: { server: "x" } }] })
  })

  it("come from the scope when there is no grants claim", () => {
    expect(grantsOfClaims({ scope: "openid dtma:server:y" })).toMatchObject({ _tag: "Success", success: [{ target: { server: "y" } }] })
  })

  it("are none when the token carries neither", () => {
    expect(grantsOfClaims({})).toMatchObject({ _tag: "Success", success: [] })
    expect(grantsOfClaims({ scope: "openid email" })).toMatchObject({ _tag: "Success", success: [] })
  })

  it("are refused when both the grants claim and dtma scope values state them", () => {
    expect(grantsOfClaims({ grants: [], scope: "dtma:server:y" })).toMatchObject({
      _tag: "Failure",
      failure: { where: "scope", problem: expect.stringContaining("beside a grants claim") },
    })
  })

  it("are refused when the scope is not a string", () => {
    expect(grantsOfClaims({ scope: ["dtma:server:y"] })).toMatchObject({ _tag: "Failure", failure: { where: "scope" } })
  })
})
