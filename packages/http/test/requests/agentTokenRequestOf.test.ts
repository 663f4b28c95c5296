import { Result } from "effect"
import fc from "fast-check"
import { MAX_GRANTS, parseGrantsClaim } from "@dtma/domain"
import { arbGrantsClaim } from "@dtma/testing"
import { describe, expect, it } from "vitest"
import { agentTokenRequestOf } from "../../src/requests/agentTokenRequestOf.ts"

const refusalOf = (body: unknown) => {
  const result = agentTokenRequestOf(body)
  if (Result.isSuccess(result)) throw new Error(`expected a refusal, got ${JSON.stringify(result.success)}`)
  return result.failure
}

const ok = { agentId: "agent-1", grants: [{ server: "mcp-a" }] }

describe("reading a POST /agent-tokens body", () => {
  it("reads any valid grants claim as the domain reads a token's, with the agent and the lifetime asked for", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 128 }),
        arbGrantsClaim,
        fc.option(fc.integer({ min: 1, max: 86_400 }), { nil: undefined }),
        (agentId, grants, ttlSeconds) => {
          const result = agentTokenRequestOf({ agentId, grants, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) })
          expect(result).toEqual(
            Result.succeed({ agentId, grants: Result.getOrThrow(parseGrantsClaim(grants)), ...(ttlSeconds === undefined ? {} : { ttlSeconds }) }),
          )
        },
      ),
      { numRuns: 300 },
    )
  })

  it.each([
    ["no agent id", { grants: [] }, "agentId", "is required"],
    ["an empty agent id", { ...ok, agentId: "" }, "agentId", "must be 1 to 128 characters"],
    ["an over-long agent id", { ...ok, agentId: "a".repeat(129) }, "agentId", "must be 1 to 128 characters"],
    ["an agent id that is not a string", { ...ok, agentId: 7 }, "agentId", "must be a string"],
    ["no grants", { agentId: "a" }, "grants", "is required: a list of grants"],
    ["grants that are not a list", { ...ok, grants: { server: "x" } }, "grants", "must be a list of grants"],
    ["a grant that is not an object", { ...ok, grants: ["x"] }, "grants[0]", "expected object"],
    ["a misspelt restriction", { ...ok, grants: [{ server: "x", tool: ["a"] }] }, "grants[0].tool", "the keys taken here are server, accountToolInstanceId"],
    ["a grant naming no server", { ...ok, grants: [{ tools: ["a"] }] }, "grants[0]", "must name a server"],
    ["a grant naming its server both ways", { ...ok, grants: [{ server: "x", accountToolInstanceId: "a" }] }, "grants[0]", "not both"],
    ["two grants for one server", { ...ok, grants: [{ server: "x" }, { server: "x" }] }, "grants[1]", "names server 'x' again"],
    ["an over-long server name", { ...ok, grants: [{ server: "s".repeat(201) }] }, "grants[0].server", "at most 200"],
    ["a tool that is not a string", { ...ok, grants: [{ server: "x", tools: ["a", 1] }] }, "grants[0].tools[1]", "must be a string"],
    ["a * before the end of a pattern", { ...ok, grants: [{ server: "x", prompts: ["a*b"] }] }, "grants[0].prompts[0]", "only as its last character"],
    ["resources that are not a boolean", { ...ok, grants: [{ server: "x", resources: "yes" }] }, "grants[0].resources", "must be true or false"],
    ["too many grants", { ...ok, grants: Array.from({ length: MAX_GRANTS + 1 }, (_, i) => ({ server: `s${i}` })) }, "grants", "at most 64 items"],
    ["a lifetime that is not whole", { ...ok, ttlSeconds: 1.5 }, "ttlSeconds", "whole number of seconds"],
    ["a lifetime given as text", { ...ok, ttlSeconds: "900" }, "ttlSeconds", "whole number of seconds"],
    ["a lifetime under one second", { ...ok, ttlSeconds: 0 }, "ttlSeconds", "at least 1"],
    ["an unknown key", { ...ok, scope: "dtma:server:x" }, "scope", "the keys taken here are agentId, grants, ttlSeconds"],
    ["a body that is not an object", [ok], "body", "expected object"],
  ])("refuses %s, naming the field and what is wrong", (_, body, path, problem) => {
    const refusal = refusalOf(body)
    expect(refusal._tag).toBe("InvalidRequest")
    expect(refusal.path).toBe(path)
    expect(refusal.problem).toContain(problem)
  })
})
