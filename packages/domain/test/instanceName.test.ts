import fc from "fast-check"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { containerNameFor, validateInstanceName } from "../src/index.ts"

const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/

describe("instance names", () => {
  it("maps every acceptable name to a container name Docker accepts", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200, unit: "grapheme" }), (name) => {
        if (Exit.isFailure(Effect.runSyncExit(validateInstanceName(name)))) return
        expect(containerNameFor(name)).toMatch(DOCKER_NAME)
      }),
    )
  })

  it("keeps a name Docker already accepts unchanged", () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,60}$/), (name) => {
      expect(containerNameFor(name)).toBe(name)
    }))
  })

  it("maps distinct names to distinct container names", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 30 }), { minLength: 2, maxLength: 40 }), (names) => {
        expect(new Set(names.map(containerNameFor)).size).toBe(names.length)
      }),
    )
  })

  it("maps the name a real caller sent with spaces", () => {
    expect(containerNameFor("Context7 MCP Server-1750278276605")).toMatch(/^Context7-MCP-Server-1750278276605-[0-9a-f]{8}$/)
  })

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
