import { describe, expect, it } from "vitest"
import type { ContainerEventKind, ContainerState, ManagedContainer } from "@dtma/domain"
import { makeContainerInventory, reflects } from "../../src/docker/containerInventory.ts"

const container = (containerId: string, state: ContainerState = "running"): ManagedContainer => ({
  containerId,
  containerName: containerId,
  name: containerId,
  accountToolInstanceId: null,
  kind: "standard_tool",
  image: "img",
  state,
  createdAt: 0,
  startedAt: state === "created" ? null : "2026-12-01T00:00:00.000000001Z",
  exitCode: state === "exited" ? 0 : null,
  ports: [],
  mcp: null,
})

/** Puts what an inspect found, stamped now. */
const inspected = (inventory: ReturnType<typeof makeContainerInventory>, c: ManagedContainer) => inventory.put(c, inventory.stamp(c.containerId))

/** Which of the listed ids a list would inspect. */
const toInspect = (inventory: ReturnType<typeof makeContainerInventory>, listed: ReadonlyArray<readonly [string, ContainerState]>) =>
  inventory.plan(
    listed.map(([id, state]) => ({ id, state })),
    inventory.mark(),
  ).inspect

describe("whether a container's last seen state already shows an event", () => {
  it.each([
    ["start", "running", true],
    ["start", "paused", true],
    ["start", "exited", false],
    ["start", "created", false],
    ["start", "restarting", false],
    ["die", "exited", true],
    ["die", "dead", true],
    ["die", "running", false],
    ["oom", "exited", true],
    ["oom", "running", false],
    ["pause", "paused", true],
    ["pause", "running", false],
    ["unpause", "running", true],
    ["unpause", "paused", false],
    ["destroy", "exited", false],
  ] as const)("%s seen %s: %s", (kind: ContainerEventKind, state: ContainerState, expected: boolean) => {
    expect(reflects(state, kind)).toBe(expected)
  })
})

describe("the container inventory", () => {
  it("answers a container inspected since its last event as kept, in the state Docker lists", () => {
    const inventory = makeContainerInventory()
    inspected(inventory, container("a"))
    expect(toInspect(inventory, [["a", "running"]])).toEqual([])
    inventory.event({ kind: "die", containerId: "a" })
    expect(toInspect(inventory, [["a", "running"]])).toEqual(["a"])
  })

  it("inspects a container whose state Docker lists otherwise, though no event came yet", () => {
    const inventory = makeContainerInventory()
    inspected(inventory, container("a"))
    expect(toInspect(inventory, [["a", "exited"]])).toEqual(["a"])
  })

  it("keeps a container current through an event its state already shows", () => {
    const inventory = makeContainerInventory()
    inspected(inventory, container("a", "exited"))
    inventory.event({ kind: "die", containerId: "a" })
    expect(toInspect(inventory, [["a", "exited"]])).toEqual([])
  })

  it("does not take an event a stale entry seems to show as making it current", () => {
    const inventory = makeContainerInventory()
    inspected(inventory, container("a", "exited"))
    inventory.event({ kind: "start", containerId: "a" })
    inventory.event({ kind: "die", containerId: "a" })
    expect(toInspect(inventory, [["a", "exited"]])).toEqual(["a"])
  })

  it("never makes current what an inspect begun before an event found", () => {
    const inventory = makeContainerInventory()
    const stamp = inventory.stamp("a")
    inventory.event({ kind: "start", containerId: "a" })
    inventory.put(container("a"), stamp)
    expect(inventory.known("a")).toMatchObject({ containerId: "a" })
    expect(toInspect(inventory, [["a", "running"]])).toEqual(["a"])
  })

  it("keeps the later of two inspects, whichever answers last", () => {
    const inventory = makeContainerInventory()
    const early = inventory.stamp("a")
    inventory.event({ kind: "die", containerId: "a" })
    const late = inventory.stamp("a")
    inventory.put(container("a", "exited"), late)
    inventory.put(container("a", "running"), early)
    expect(inventory.known("a")?.state).toBe("exited")
    expect(toInspect(inventory, [["a", "exited"]])).toEqual([])
  })

  it("makes nothing current after a gap", () => {
    const inventory = makeContainerInventory()
    for (const id of ["a", "b", "c"]) inspected(inventory, container(id))
    inventory.gap()
    expect(
      toInspect(inventory, [
        ["a", "running"],
        ["b", "running"],
        ["c", "running"],
      ]),
    ).toEqual(["a", "b", "c"])
  })

  it("never makes current a container known only from its creation", () => {
    const inventory = makeContainerInventory()
    inventory.note(container("a", "created"))
    expect(inventory.known("a")?.state).toBe("created")
    expect(toInspect(inventory, [["a", "created"]])).toEqual(["a"])
  })

  it("forgets a destroyed container, and a removed one", () => {
    const inventory = makeContainerInventory()
    inspected(inventory, container("a"))
    inspected(inventory, container("b"))
    inventory.event({ kind: "destroy", containerId: "a" })
    inventory.forget("b")
    expect([inventory.known("a"), inventory.known("b")]).toEqual([undefined, undefined])
  })

  it("forgets containers Docker no longer lists, but not one heard of after Docker made its list", () => {
    const inventory = makeContainerInventory()
    inspected(inventory, container("gone"))
    const mark = inventory.mark()
    inventory.note(container("new", "created"))
    inventory.plan([], mark)
    expect(inventory.known("gone")).toBeUndefined()
    expect(inventory.known("new")?.state).toBe("created")
  })

  it("does not let a container's forgotten events make an inspect begun before them current", () => {
    const inventory = makeContainerInventory()
    const stamp = inventory.stamp("a")
    const mark = inventory.mark()
    inventory.event({ kind: "start", containerId: "a" })
    inventory.plan([], mark)
    inventory.put(container("a"), stamp)
    expect(toInspect(inventory, [["a", "running"]])).toEqual(["a"])
  })
})
