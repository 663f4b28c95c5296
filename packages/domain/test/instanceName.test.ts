import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { validateInstanceName } from "../src/index.ts"

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
