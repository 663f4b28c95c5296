import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { arbItemName, arbPattern, arbScopeExpressibleClaim, arbServerName, arbServerRef } from "@dtma/testing"
import { mayUsePrompt, mayUseResource, mayUseServer, mayUseTool, type Grants, type ServerRef } from "../../src/access/grants.ts"
import { claimOfGrants, MAX_GRANTS, parseGrantsClaim } from "../../src/access/grantsClaim.ts"
import { parseGrantsScope, scopeOfGrants } from "../../src/access/grantsScope.ts"

const ok = <A>(result: { readonly _tag: "Success"; readonly success: A } | { readonly _tag: "Failure"; readonly failure: { readonly message: string } }): A => {
  if (result._tag === "Failure") throw new Error(result.failure.message)
  return result.success
}

const decisions = (grants: Grants, server: ServerRef, name: string) => [
  mayUseServer(grants, server),
  mayUseTool(grants, server, name),
  mayUsePrompt(grants, server, name),
  mayUseResource(grants, server),
]

/** One scope value: a whole server, or one tool (pattern) on it. */
const arbScopeValue = fc.oneof(
  arbServerName.map((s) => `dtma:server:${encodeURIComponent(s)}`),
  fc.tuple(arbServerName, arbPattern).map(([s, t]) => `dtma:tool:${encodeURIComponent(s)}/${encodeURIComponent(t)}`),
)

describe("the scope form", () => {
  it("means the same grants as the claim form, for any grants it can spell", () => {
    fc.assert(
      fc.property(arbScopeExpressibleClaim, arbServerRef, arbItemName, (claim, server, name) => {
        const fromClaim = ok(parseGrantsClaim(claim))
        const scope = scopeOfGrants(fromClaim)
        expect(scope).not.toBeNull()
        expect(decisions(ok(parseGrantsScope(scope!)), server, name)).toEqual(decisions(fromClaim, server, name))
      }),
      { numRuns: 1000 },
    )
  })

  it("survives being written and read back", () => {
    fc.assert(
      fc.property(fc.array(arbScopeValue, { maxLength: 8 }), (values) => {
        const grants = ok(parseGrantsScope(values.join(" ")))
        expect(ok(parseGrantsScope(scopeOfGrants(grants)!))).toEqual(grants)
        expect(ok(parseGrantsClaim(claimOfGrants(grants)))).toEqual(grants)
      }),
    )
  })

  it("only adds access with every value added (a narrower scope is never wider)", () => {
    fc.assert(
      fc.property(
        fc.array(arbScopeValue, { maxLength: 6 }),
        fc.array(arbScopeValue, { maxLength: 3 }),
        arbServerRef,
        arbItemName,
        (values, more, server, name) => {
          const narrow = decisions(ok(parseGrantsScope(values.join(" "))), server, name)
          const wide = decisions(ok(parseGrantsScope([...values, ...more].join(" "))), server, name)
          narrow.forEach((allowed, i) => allowed && expect(wide[i]).toBe(true))
        },
      ),
    )
  })

  it("grants everything on a server named whole, even beside tool values for it", () => {
    const grants = ok(parseGrantsScope("dtma:tool:memory/read_graph dtma:server:memory"))
    const server = { name: "memory", accountToolInstanceId: null }
    expect(decisions(grants, server, "delete_entities")).toEqual([true, true, true, true])
  })

  it("grants only the tools named on a server named by tool values, no prompts and no resources", () => {
    const grants = ok(parseGrantsScope("dtma:tool:memory/read_graph dtma:tool:memory/search_*"))
    const server = { name: "memory", accountToolInstanceId: null }
    expect([mayUseTool(grants, server, "read_graph"), mayUseTool(grants, server, "search_nodes"), mayUseTool(grants, server, "delete_entities")]).toEqual([
      true,
      true,
      false,
    ])
    expect([mayUsePrompt(grants, server, "read_graph"), mayUseResource(grants, server)]).toEqual([false, false])
  })

  it("decodes percent-encoded names, and only the first raw / ends the server name", () => {
    const grants = ok(parseGrantsScope("dtma:server:web%20search dtma:tool:a%2Fb/c%2Fd"))
    expect(grants).toEqual([
      { target: { server: "web search" }, tools: ["*"], prompts: ["*"], resources: true },
      { target: { server: "a/b" }, tools: ["c/d"], prompts: [], resources: false },
    ])
  })

  it("leaves scope values that are not the DTMA's alone, and reads repeated values once", () => {
    expect(ok(parseGrantsScope("openid  profile\tdtma:server:x dtma:server:x"))).toEqual([
      { target: { server: "x" }, tools: ["*"], prompts: ["*"], resources: true },
    ])
  })

  it.each([
    ["dtma:prompt:x/p", "is not a DTMA scope"],
    ["dtma:server:", "names a server that must not be empty"],
    ["dtma:server:%E0%A4%A", "not valid percent-encoding"],
    ["dtma:tool:x", "must be dtma:tool:<server>/<tool>"],
    ["dtma:tool:/t", "names a server that must not be empty"],
    ["dtma:tool:x/", "names a tool that must not be empty"],
    ["dtma:tool:x/a*b", "only as its last character"],
    [Array.from({ length: MAX_GRANTS + 1 }, (_, i) => `dtma:server:s${i}`).join(" "), `more than ${MAX_GRANTS} servers`],
  ])("refuses %s, saying what is wrong", (scope, problem) => {
    const result = parseGrantsScope(scope)
    expect(result._tag).toBe("Failure")
    if (result._tag === "Failure") expect(result.failure.problem).toContain(problem)
  })

  it("has no spelling for grants by account tool instance, or with prompts or resources but restricted tools", () => {
    const spell = (claim: unknown) => scopeOfGrants(ok(parseGrantsClaim(claim)))
    expect(spell([{ accountToolInstanceId: "a" }])).toBeNull()
    expect(spell([{ server: "x", tools: ["a"] }])).toBeNull()
    expect(spell([{ server: "x", tools: [], prompts: [], resources: false }])).toBeNull()
    expect(spell([])).toBe("")
  })
})
