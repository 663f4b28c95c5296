import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { lifecycleOf, toolboxStatusOf, transition, type ContainerState, type LifecycleState } from "../src/index.ts"
import { arbLifecycleEvent, arbLifecycleState, lifecycleStates } from "@dtma/testing"

describe("instance lifecycle", () => {
  it("answers every state and event with a next state or an IllegalTransition naming both", () => {
    fc.assert(
      fc.property(arbLifecycleState, arbLifecycleEvent, (from, event) => {
        const next = transition(from, event)
        if (Result.isSuccess(next)) expect(lifecycleStates).toContain(next.success)
        else expect(next.failure).toMatchObject({ _tag: "IllegalTransition", from, event: event._tag })
      }),
    )
  })

  it("lets an instance be removed from every state but removed", () => {
    for (const from of lifecycleStates.filter((s) => s !== "removed")) {
      expect(transition(from, { _tag: "RemoveRequested" })).toEqual(Result.succeed("removing"))
    }
  })

  it("keeps removed terminal whatever happens next", () => {
    fc.assert(
      fc.property(arbLifecycleEvent, (event) => {
        expect(Result.isFailure(transition("removed", event))).toBe(true)
      }),
    )
  })

  it("reaches removed from any reachable state by requesting removal and observing it", () => {
    fc.assert(
      fc.property(fc.array(arbLifecycleEvent, { maxLength: 30 }), (events) => {
        let state: LifecycleState = "deploying"
        for (const event of events) {
          const next = transition(state, event)
          if (Result.isSuccess(next)) state = next.success
        }
        if (state === "removed") return
        const removing = transition(state, { _tag: "RemoveRequested" })
        expect(Result.isSuccess(removing) && transition(removing.success, { _tag: "ContainerRemoved" })).toEqual(Result.succeed("removed"))
      }),
    )
  })

  it("treats a start request on a running instance as a no-op and on a stopped one as starting", () => {
    expect(transition("running", { _tag: "StartRequested" })).toEqual(Result.succeed("running"))
    expect(transition("stopped", { _tag: "StartRequested" })).toEqual(Result.succeed("starting"))
    expect(transition("exited", { _tag: "StartRequested" })).toEqual(Result.succeed("starting"))
  })

  it.each<[ContainerState, LifecycleState]>([
    ["running", "running"],
    ["paused", "running"],
    ["restarting", "running"],
    ["created", "stopped"],
    ["exited", "exited"],
    ["dead", "exited"],
    ["removing", "removing"],
  ])("reads Docker state %s as %s", (docker, expected) => {
    expect(lifecycleOf(docker)).toBe(expected)
  })

  it.each<[ContainerState, number | null, string]>([
    ["running", null, "running"],
    ["created", null, "deploying"],
    ["restarting", 1, "deploying"],
    ["exited", 0, "stopped"],
    ["exited", 143, "stopped"],
    ["exited", 137, "stopped"],
    ["exited", 1, "error"],
    ["dead", null, "error"],
    ["paused", null, "stopped"],
  ])("reports Docker state %s with exit code %s to the backend as %s", (docker, exitCode, expected) => {
    expect(toolboxStatusOf(docker, exitCode)).toBe(expected)
  })
})
