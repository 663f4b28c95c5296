import { describe, expect, it } from "vitest"
import { containerEventOf, eventFilters } from "../../src/docker/containerEvent.ts"

const ID = "f".repeat(64)
// As Docker 20.10 sends them (labels are among the attributes).
const event = (action: string, attributes: Record<string, string> = {}, extra: Record<string, unknown> = {}) => ({
  status: action,
  id: ID,
  from: "dtma/mcp-memory:2026.8.31",
  Type: "container",
  Action: action,
  Actor: { ID, Attributes: { "dtma.managed": "true", "dtma.name": "memory", image: "dtma/mcp-memory:2026.8.31", name: "memory-1a2b", ...attributes } },
  scope: "local",
  time: 1_780_000_000,
  timeNano: 1_780_000_000_123_456_000,
  ...extra,
})

describe("a Docker event as the domain's", () => {
  it.each([
    ["start", {}, { kind: "start", exitCode: null }],
    ["die", { exitCode: "137" }, { kind: "die", exitCode: 137 }],
    ["die", {}, { kind: "die", exitCode: null }],
    ["destroy", {}, { kind: "destroy", exitCode: null }],
    ["oom", {}, { kind: "oom", exitCode: null }],
    ["pause", {}, { kind: "pause", exitCode: null }],
    ["unpause", {}, { kind: "unpause", exitCode: null }],
  ])("maps %s %j", (action, attributes, expected) => {
    expect(containerEventOf(event(action, attributes))).toEqual({ containerId: ID, name: "memory", at: 1_780_000_000_123, ...expected })
  })

  it.each([
    ["another kind of event", event("exec_start: sh", {})],
    ["an event of another object type", event("start", {}, { Type: "network" })],
    ["an unmanaged container", event("start", { "dtma.managed": "false" })],
    ["a container without an instance name", { ...event("start"), Actor: { ID, Attributes: { "dtma.managed": "true" } } }],
    ["something that is not an event", "start"],
  ])("ignores %s", (_what, json) => {
    expect(containerEventOf(json)).toBeNull()
  })

  it("falls back to whole seconds when there is no timeNano", () => {
    expect(containerEventOf(event("start", {}, { timeNano: undefined }))?.at).toBe(1_780_000_000_000)
  })

  it("asks Docker only for managed containers' lifecycle events", () => {
    expect(eventFilters()).toEqual({ type: ["container"], label: ["dtma.managed=true"], event: ["start", "die", "destroy", "oom", "pause", "unpause"] })
    expect(eventFilters("ci-7").label).toEqual(["dtma.managed=ci-7"])
  })

  it("ignores another scope's containers", () => {
    expect(containerEventOf(event("start"), "ci-7")).toBeNull()
    expect(containerEventOf(event("start", { "dtma.managed": "ci-7" }), "ci-7")?.kind).toBe("start")
  })
})
