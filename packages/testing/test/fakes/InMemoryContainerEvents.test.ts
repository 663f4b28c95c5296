import { describe, expect, it } from "vitest"
import type { ContainerEvent } from "@dtma/domain"
import { containerEventsContract, InMemoryContainerEvents, run, type ContainerBehaviour } from "../../src/index.ts"

/** The fake feed, told by a tiny runtime what Docker would tell: managed containers only, Docker's exit codes. */
for (const replay of [false, true])
  containerEventsContract(`InMemoryContainerEvents${replay ? ", replaying what a break missed" : ""}`, async () => {
    const events = new InMemoryContainerEvents()
    const containers = new Map<string, { readonly name: string | null; readonly behaviour: ContainerBehaviour; running: boolean }>()
    const tell = (id: string, kind: ContainerEvent["kind"], exitCode: number | null = null) => {
      const name = containers.get(id)?.name ?? null
      if (name !== null) events.emit({ kind, containerId: id, name, exitCode, at: Date.now() })
    }
    const died = (id: string, exitCode: number) => {
      containers.get(id)!.running = false
      tell(id, "die", exitCode)
    }
    const add = async (name: string | null, behaviour: ContainerBehaviour = "serves") => {
      const id = `c${containers.size + 1}`
      containers.set(id, { name, behaviour, running: false })
      return id
    }
    return {
      events,
      managed: (name, behaviour) => add(name, behaviour),
      foreign: () => add(null),
      start: async (id) => {
        const c = containers.get(id)!
        c.running = true
        tell(id, "start")
        if (c.behaviour === "exhausts_memory") tell(id, "oom")
        if (c.behaviour !== "serves") died(id, c.behaviour === "exhausts_memory" ? 137 : c.behaviour.exitsWith)
      },
      pause: async (id) => tell(id, "pause"),
      unpause: async (id) => tell(id, "unpause"),
      kill: async (id) => died(id, 137),
      remove: async (id) => {
        if (containers.get(id)?.running === true) died(id, 137)
        tell(id, "destroy")
      },
      breakFeed: async () => events.breakFeed(),
      restoreFeed: async () => events.restoreFeed({ replay }),
    }
  })

const event = (kind: ContainerEvent["kind"]): ContainerEvent => ({ kind, containerId: "c1", name: "srv", exitCode: kind === "die" ? 1 : null, at: 1 })

describe("InMemoryContainerEvents", () => {
  it("delivers emitted events in order to every subscriber until it unsubscribes", async () => {
    const events = new InMemoryContainerEvents()
    const a: Array<string> = []
    const b: Array<string> = []
    const sa = await run(events.subscribe({ onEvent: (e) => a.push(e.kind), onGap: () => undefined }))
    await run(events.subscribe({ onEvent: (e) => b.push(e.kind), onGap: () => undefined }))
    events.emit(event("start"))
    await run(sa.unsubscribe)
    events.emit(event("die"))
    expect(a).toEqual(["start"])
    expect(b).toEqual(["start", "die"])
    expect(events.subscriberCount).toBe(1)
  })

  it("loses events while the feed is broken and reports a gap once it is back", async () => {
    const events = new InMemoryContainerEvents()
    const seen: Array<string> = []
    await run(events.subscribe({ onEvent: (e) => seen.push(e.kind), onGap: () => seen.push("gap") }))
    events.breakFeed()
    events.emit(event("die"))
    events.restoreFeed()
    events.emit(event("start"))
    events.simulateGap()
    expect(seen).toEqual(["gap", "start", "gap"])
    expect(events.lost.map((e) => e.kind)).toEqual(["die"])
  })

  it("can replay what a break missed after the gap, as Docker's feed does after a dropped connection", async () => {
    const events = new InMemoryContainerEvents()
    const seen: Array<string> = []
    await run(events.subscribe({ onEvent: (e) => seen.push(e.kind), onGap: () => seen.push("gap") }))
    events.emit(event("start"))
    events.breakFeed()
    events.emit(event("oom"))
    events.emit(event("die"))
    events.restoreFeed({ replay: true })
    expect(seen).toEqual(["start", "gap", "oom", "die"])
    expect(events.lost).toEqual([])
  })
})
