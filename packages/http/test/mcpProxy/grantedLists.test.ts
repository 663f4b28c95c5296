import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { accessTo, patternMatches, type ServerAccess } from "@dtma/domain"
import { arbItemName, arbPattern } from "@dtma/testing"
import { grantedListResult } from "../../src/mcpProxy/grantedLists.ts"

interface Patterns {
  readonly tools: ReadonlyArray<string>
  readonly prompts: ReadonlyArray<string>
  readonly resources: boolean
}

const arbPatterns: fc.Arbitrary<Patterns> = fc.record({
  tools: fc.uniqueArray(arbPattern, { maxLength: 4 }),
  prompts: fc.uniqueArray(arbPattern, { maxLength: 4 }),
  resources: fc.boolean(),
})
const accessOf = (p: Patterns): ServerAccess => accessTo([{ target: { server: "s" }, ...p }], { name: "s", accountToolInstanceId: null })!

/** An item of a page: mostly named, sometimes not what a server should send at all. */
const arbItem = fc.oneof(
  { weight: 8, arbitrary: fc.record({ name: arbItemName, description: fc.string({ maxLength: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ uri: fc.webUrl() }) },
  { weight: 1, arbitrary: fc.constantFrom(null, 3, "tool", { name: 5 }) },
)

const LISTS = [
  { method: "tools/list", field: "tools", kind: "tools" },
  { method: "prompts/list", field: "prompts", kind: "prompts" },
  { method: "resources/list", field: "resources", kind: "resources" },
  { method: "resources/templates/list", field: "resourceTemplates", kind: "resources" },
] as const

const arbList = fc.constantFrom(...LISTS)

const arbResult = (field: string) =>
  fc.record(
    { [field]: fc.array(arbItem, { maxLength: 8 }), nextCursor: fc.string({ minLength: 1, maxLength: 6 }), _meta: fc.constant({ page: 1 }) },
    { requiredKeys: [field] },
  )

/** The oracle: whether an item is shown, read off the patterns as the spec words it. */
const shows = (kind: (typeof LISTS)[number]["kind"], patterns: Patterns, item: unknown): boolean => {
  if (kind === "resources") return patterns.resources
  const name = (item as { name?: unknown } | null)?.name
  return typeof name === "string" && patterns[kind].some((p) => patternMatches(p, name))
}

const nothingShown = (kind: (typeof LISTS)[number]["kind"], patterns: Patterns): boolean =>
  kind === "resources" ? !patterns.resources : patterns[kind].length === 0

describe("a list result as an agent's access shows it", () => {
  it("holds exactly the granted items of the page, in their order, and every other field as the server sent it", () => {
    fc.assert(
      fc.property(
        arbList.chain((list) => fc.tuple(fc.constant(list), arbResult(list.field), arbPatterns)),
        ([list, result, patterns]) => {
          const shown = grantedListResult(list.method, result, accessOf(patterns))
          const page = result[list.field] as ReadonlyArray<unknown>
          expect(shown[list.field]).toEqual(page.filter((item) => shows(list.kind, patterns, item)))
          expect(shown["_meta"]).toEqual(result["_meta"])
        },
      ),
      { numRuns: 500 },
    )
  })

  it("keeps the cursor to the next page, unless the access can show no item on any page", () => {
    fc.assert(
      fc.property(
        arbList.chain((list) => fc.tuple(fc.constant(list), arbResult(list.field), arbPatterns)),
        ([list, result, patterns]) => {
          const shown = grantedListResult(list.method, result, accessOf(patterns))
          expect(shown["nextCursor"]).toEqual(nothingShown(list.kind, patterns) ? undefined : result["nextCursor"])
        },
      ),
    )
  })

  it("shows everything to an access that allows everything, and is the same shown twice", () => {
    const all = accessOf({ tools: ["*"], prompts: ["*"], resources: true })
    fc.assert(
      fc.property(
        arbList.chain((list) => fc.tuple(fc.constant(list), arbResult(list.field), arbPatterns)),
        ([list, result, patterns]) => {
          const named = {
            ...result,
            [list.field]: (result[list.field] as Array<unknown>).filter(
              (i) => list.kind === "resources" || shows(list.kind, { tools: ["*"], prompts: ["*"], resources: true }, i),
            ),
          }
          expect(grantedListResult(list.method, named, all)).toEqual(named)
          const once = grantedListResult(list.method, result, accessOf(patterns))
          expect(grantedListResult(list.method, once, accessOf(patterns))).toEqual(once)
        },
      ),
    )
  })

  it("shows nothing of a page that is not an array, and leaves the result of any other method as it is", () => {
    const access = accessOf({ tools: ["*"], prompts: ["*"], resources: true })
    expect(grantedListResult("tools/list", { tools: { secret: { name: "secret" } } }, access)).toEqual({ tools: [] })
    fc.assert(
      fc.property(fc.constantFrom("tools/call", "constructor", "__proto__", "resources/read"), fc.dictionary(fc.string(), fc.jsonValue()), (method, result) => {
        expect(grantedListResult(method, result, accessOf({ tools: [], prompts: [], resources: false }))).toBe(result)
      }),
    )
  })
})
