import { Effect, Exit } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { buildInstanceSpec, instanceNameProblem, isolatedInstanceName, validateInstanceName } from "../src/index.ts"

describe("instance names", () => {
  it.each([
    ["", "must not be empty"],
    ["   ", "must not be empty"],
    ["a/b", "must not contain"],
    ["a\u0000b", "must not contain"],
    [" padded", "white space"],
    ["x".repeat(201), "at most 200"],
  ])("refuses %j saying it %s", (name, problem) => {
    const exit = Effect.runSyncExit(validateInstanceName(name))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain(problem)
  })
})

describe("the instance name of an agent's own instance of a per_agent server", () => {
  it("is never a name a caller may give, whatever the server, the agent and the caller's name", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.string({ minLength: 1, maxLength: 128 }),
        fc.string({ maxLength: 300 }),
        (server, agent, callers) => {
          fc.pre(instanceNameProblem(callers) === null)
          expect(isolatedInstanceName({ server, agent })).not.toBe(callers)
          expect(instanceNameProblem(isolatedInstanceName({ server, agent }))).not.toBeNull()
        },
      ),
    )
  })

  it("is taken for an agent's instance only under its own name, with a server's valid name and a token's agent id", () => {
    const base = { accountToolInstanceId: null, image: "mcp/notes:1", env: [], ports: [], mcp: { transport: "stdio", endpointPath: null, port: null } } as const
    const build = (name: string, server: string, agent: string) =>
      Effect.runSyncExit(buildInstanceSpec({ ...base, name, isolatedFor: { server, agent } }, { reservedHostPorts: [] }))
    const ok = build("memory/agent-7", "memory", "agent-7")
    expect(Exit.isSuccess(ok) && ok.value).toMatchObject({ name: "memory/agent-7", isolatedFor: { server: "memory", agent: "agent-7" } })
    expect(String(build("memory/agent-8", "memory", "agent-7"))).toContain("is not the name of the agent's instance")
    expect(String(build("a/b/agent", "a/b", "agent"))).toContain("must not contain")
    expect(String(build("memory/", "memory", ""))).toContain("agent id")
  })
})
