import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { arbGrants, arbGrantsClaim, arbItemName, arbServerRef } from "@dtma/testing"
import {
  accessTo,
  mayUsePrompt,
  mayUseResource,
  mayUseServer,
  mayUseTool,
  ruleAllows,
  visiblePrompts,
  visibleResources,
  visibleTools,
  type Grants,
  type ServerRef,
} from "../../src/access/grants.ts"
import { claimOfGrants, parseGrantsClaim, type GrantClaim } from "../../src/access/grantsClaim.ts"

const grantsOf = (claim: ReadonlyArray<GrantClaim>): Grants => {
  const result = parseGrantsClaim(claim)
  if (result._tag === "Failure") throw new Error(result.failure.message)
  return result.success
}

// The oracle, read straight off the claim as the spec words it, independent of the model.
const names = (item: GrantClaim, server: ServerRef): boolean =>
  item.server !== undefined ? item.server === server.name : server.accountToolInstanceId !== null && item.accountToolInstanceId === server.accountToolInstanceId
const listed = (patterns: ReadonlyArray<string> | undefined, name: string): boolean =>
  patterns === undefined || patterns.some((p) => (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : p === name))
const oracle = {
  server: (claim: ReadonlyArray<GrantClaim>, server: ServerRef) => claim.some((i) => names(i, server)),
  tool: (claim: ReadonlyArray<GrantClaim>, server: ServerRef, tool: string) => claim.some((i) => names(i, server) && listed(i.tools, tool)),
  prompt: (claim: ReadonlyArray<GrantClaim>, server: ServerRef, prompt: string) => claim.some((i) => names(i, server) && listed(i.prompts, prompt)),
  resources: (claim: ReadonlyArray<GrantClaim>, server: ServerRef) => claim.some((i) => names(i, server) && i.resources !== false),
}

const arbItems = fc.uniqueArray(arbItemName, { maxLength: 8 }).map((ns) => ns.map((name) => ({ name, description: `about ${name}` })))

describe("grants", () => {
  it("allow exactly what a grant names: no server, tool, prompt or resource beyond it", () => {
    fc.assert(
      fc.property(arbGrantsClaim, arbServerRef, arbItemName, (claim, server, name) => {
        const grants = grantsOf(claim)
        expect(mayUseServer(grants, server)).toBe(oracle.server(claim, server))
        expect(mayUseTool(grants, server, name)).toBe(oracle.tool(claim, server, name))
        expect(mayUsePrompt(grants, server, name)).toBe(oracle.prompt(claim, server, name))
        expect(mayUseResource(grants, server)).toBe(oracle.resources(claim, server))
      }),
      { numRuns: 2000 },
    )
  })

  it("deny everything when empty", () => {
    fc.assert(
      fc.property(arbServerRef, arbItemName, (server, name) => {
        expect([mayUseServer([], server), mayUseTool([], server, name), mayUsePrompt([], server, name), mayUseResource([], server)]).toEqual([
          false,
          false,
          false,
          false,
        ])
      }),
    )
  })

  it("let a trailing * match every name with its prefix, and nothing else", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z_]{0,5}$/), fc.stringMatching(/^[a-z_]{0,5}$/), fc.stringMatching(/^[a-z_]{1,6}$/), (prefix, suffix, other) => {
        const grants = grantsOf([{ server: "s", tools: [`${prefix}*`] }])
        const server = { name: "s", accountToolInstanceId: null }
        expect(mayUseTool(grants, server, `${prefix}${suffix}`)).toBe(true)
        expect(mayUseTool(grants, server, other)).toBe(other.startsWith(prefix))
      }),
    )
  })

  it("read an exact name as that name only, never as a prefix", () => {
    const grants = grantsOf([{ server: "s", tools: ["read"] }])
    const server = { name: "s", accountToolInstanceId: null }
    expect([mayUseTool(grants, server, "read"), mayUseTool(grants, server, "read_graph"), mayUseTool(grants, server, "rea")]).toEqual([true, false, false])
  })

  it("open everything on a server named alone, and nothing with empty lists and resources false", () => {
    const server = { name: "memory", accountToolInstanceId: "ati-9" }
    const open = grantsOf([{ server: "memory" }])
    expect([mayUseTool(open, server, "x"), mayUsePrompt(open, server, "y"), mayUseResource(open, server)]).toEqual([true, true, true])
    const closed = grantsOf([{ accountToolInstanceId: "ati-9", tools: [], prompts: [], resources: false }])
    expect([mayUseServer(closed, server), mayUseTool(closed, server, "x"), mayUsePrompt(closed, server, "y"), mayUseResource(closed, server)]).toEqual([
      true,
      false,
      false,
      false,
    ])
  })

  it("never match a grant by account tool instance id on a server that has none", () => {
    const grants = grantsOf([{ accountToolInstanceId: "ati-1" }])
    expect(mayUseServer(grants, { name: "ati-1", accountToolInstanceId: null })).toBe(false)
  })

  it("list exactly the items the decisions allow, in their order", () => {
    fc.assert(
      fc.property(arbGrants, arbServerRef, arbItems, (grants, server, items) => {
        expect(visibleTools(grants, server, items)).toEqual(items.filter((t) => mayUseTool(grants, server, t.name)))
        expect(visiblePrompts(grants, server, items)).toEqual(items.filter((p) => mayUsePrompt(grants, server, p.name)))
        expect(visibleResources(grants, server, items)).toEqual(mayUseResource(grants, server) ? items : [])
      }),
    )
  })

  it("show no fewer items for more grants (filtering is monotone)", () => {
    fc.assert(
      fc.property(arbGrants, arbGrants, arbServerRef, arbItems, (grants, more, server, items) => {
        const wider = [...grants, ...more]
        const subset = <T>(a: ReadonlyArray<T>, b: ReadonlyArray<T>) => a.every((x) => b.includes(x))
        expect(subset(visibleTools(grants, server, items), visibleTools(wider, server, items))).toBe(true)
        expect(subset(visiblePrompts(grants, server, items), visiblePrompts(wider, server, items))).toBe(true)
        expect(subset(visibleResources(grants, server, items), visibleResources(wider, server, items))).toBe(true)
        if (mayUseServer(grants, server)) expect(mayUseServer(wider, server)).toBe(true)
      }),
    )
  })

  it("show no fewer tools when a grant's list gains a pattern", () => {
    fc.assert(
      fc.property(arbItemName, fc.uniqueArray(arbItemName, { maxLength: 3 }), arbItems, (extra, tools, items) => {
        const server = { name: "s", accountToolInstanceId: null }
        const before = visibleTools(grantsOf([{ server: "s", tools }]), server, items)
        const after = visibleTools(grantsOf([{ server: "s", tools: tools.includes(extra) ? tools : [...tools, extra] }]), server, items)
        expect(before.every((t) => after.includes(t))).toBe(true)
      }),
    )
  })

  it("decide alike from a prepared access and from the grants", () => {
    fc.assert(
      fc.property(arbGrants, arbServerRef, arbItemName, (grants, server, name) => {
        const access = accessTo(grants, server)
        expect(access !== null && ruleAllows(access.tools, name)).toBe(mayUseTool(grants, server, name))
        expect(access !== null && ruleAllows(access.prompts, name)).toBe(mayUsePrompt(grants, server, name))
      }),
    )
  })

  it("survive being written as a claim and read back", () => {
    fc.assert(
      fc.property(arbGrants, (grants) => {
        expect(grantsOf(JSON.parse(JSON.stringify(claimOfGrants(grants))))).toEqual(grants)
      }),
    )
  })
})
