import { describe, expect, it } from "vitest"
import type { ContainerEvent } from "@dtma/domain"
import { InMemoryContainerEvents, run } from "../src/index.ts"

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
})
