import { afterEach, describe, expect, it } from "vitest"
import type { ContainerEvent, EventSubscription } from "@dtma/domain"
import { containerEventsContract, run, type ContainerBehaviour } from "@dtma/testing"
import { makeDockerContainerEvents } from "../../src/docker/DockerContainerEvents.ts"
import { makeDockerContainerRuntime } from "../../src/docker/DockerContainerRuntime.ts"
import { eventContainerSpec, NODE_IMAGE, SERVING_IMAGE } from "./eventContainerSpec.ts"
import { FakeDockerApi } from "./FakeDockerApi.ts"
import { eventJson } from "./FakeEventFeed.ts"

const ID = "a".repeat(64)

containerEventsContract("DockerContainerEvents over a fake Docker API", async () => {
  const docker = new FakeDockerApi()
  docker.images.add(SERVING_IMAGE).add(NODE_IMAGE)
  const [ours, theirs] = [makeDockerContainerRuntime(docker, { scope: "ours" }), makeDockerContainerRuntime(docker, { scope: "theirs" })]
  const behaviours = new Map<string, ContainerBehaviour>()
  const create = async (runtime: typeof ours, name: string, behaviour: ContainerBehaviour) => {
    // A replacement's container name never clashes: the contract may reuse an instance name.
    const { containerId } = await run(runtime.create(eventContainerSpec({ name, behaviour }), { replacement: true }))
    behaviours.set(containerId, behaviour)
    return containerId
  }
  return {
    events: makeDockerContainerEvents(docker, { scope: "ours", initialBackoffMs: 10, maxBackoffMs: 40 }),
    managed: (name, behaviour = "serves") => create(ours, name, behaviour),
    foreign: (name) => create(theirs, name, "serves"),
    start: async (id) => {
      await docker.startContainer(id, new AbortController().signal)
      const behaviour = behaviours.get(id)
      // The fake runs no process: it plays what the process would do.
      if (behaviour === "exhausts_memory") docker.outOfMemory(id)
      else if (typeof behaviour === "object") docker.exit(id, behaviour.exitsWith)
    },
    pause: async (id) => docker.pause(id),
    unpause: async (id) => docker.unpause(id),
    kill: async (id) => docker.kill(id),
    remove: (id) => docker.removeContainer(id, new AbortController().signal),
    breakFeed: async () => {
      docker.daemon = "down"
      docker.events.breakAll()
    },
    restoreFeed: async () => void (docker.daemon = "up"),
  }
})

const subscribed = async (docker: FakeDockerApi) => {
  const seen: Array<ContainerEvent> = []
  const gaps: Array<number> = []
  const errors: Array<unknown> = []
  const events = makeDockerContainerEvents(docker, { initialBackoffMs: 10, maxBackoffMs: 40, onError: (e) => errors.push(e) })
  const subscription = await run(events.subscribe({ onEvent: (e) => seen.push(e), onGap: () => gaps.push(Date.now()) }))
  subscriptions.push(subscription)
  await expect.poll(() => docker.events.open.size).toBe(1)
  return { seen, gaps, errors, subscription }
}
const subscriptions: Array<EventSubscription> = []

describe("DockerContainerEvents over a fake Docker API", () => {
  afterEach(async () => {
    for (const s of subscriptions.splice(0)) await run(s.unsubscribe)
  })

  it("asks for managed containers' lifecycle events from now on and passes them on in order", async () => {
    const docker = new FakeDockerApi()
    const { seen } = await subscribed(docker)
    expect(docker.events.requests).toEqual([
      { since: null, filters: { type: ["container"], label: ["dtma.managed=true"], event: ["start", "die", "destroy", "oom", "pause", "unpause"] } },
    ])
    docker.events.emit(eventJson("start", ID))
    docker.events.emit(eventJson("die", ID, { exitCode: "3" }))
    await expect
      .poll(() => seen.map((e) => [e.kind, e.exitCode]))
      .toEqual([
        ["start", null],
        ["die", 3],
      ])
    expect(seen[0]).toMatchObject({ containerId: ID, name: "srv" })
  })

  it("reassembles events whose lines arrive split across chunks", async () => {
    const docker = new FakeDockerApi()
    docker.events.splitLines = true
    const { seen } = await subscribed(docker)
    docker.events.emit(eventJson("oom", ID))
    docker.events.emit(eventJson("destroy", ID))
    await expect.poll(() => seen.map((e) => e.kind)).toEqual(["oom", "destroy"])
  })

  it("reconnects after the feed breaks, replays from the last event without duplicates, and reports the gap", async () => {
    const docker = new FakeDockerApi()
    const { seen, gaps } = await subscribed(docker)
    docker.events.emit(eventJson("start", ID))
    await expect.poll(() => seen.length).toBe(1)
    docker.events.breakAll()
    docker.events.emit(eventJson("die", ID, { exitCode: "0" }))
    await expect.poll(() => gaps.length).toBe(1)
    await expect.poll(() => seen.map((e) => e.kind)).toEqual(["start", "die"])
    expect(docker.events.requests[1]?.since).toBeCloseTo((docker.events.history[0]?.timeNano ?? 0) / 1e9, 3)
    docker.events.emit(eventJson("destroy", ID))
    await expect.poll(() => seen.map((e) => e.kind)).toEqual(["start", "die", "destroy"])
  })

  it("keeps retrying with capped backoff while the daemon is down, then reports one gap", async () => {
    const docker = new FakeDockerApi()
    const { gaps, errors } = await subscribed(docker)
    docker.daemon = "down"
    docker.events.breakAll()
    await new Promise((resolve) => setTimeout(resolve, 300))
    const attempts = docker.events.requests.length + errors.length
    expect(errors.length).toBeGreaterThanOrEqual(4)
    // 10, 20, 40, 40, ... ms: at most one attempt per 40 ms once capped.
    expect(errors.length).toBeLessThanOrEqual(12)
    expect(gaps).toEqual([])
    docker.daemon = "up"
    await expect.poll(() => gaps.length).toBe(1)
    expect(attempts).toBeGreaterThan(1)
  })

  it("stops everything on unsubscribe: the stream is closed and no reconnect is scheduled", async () => {
    const docker = new FakeDockerApi()
    const { subscription, seen } = await subscribed(docker)
    await run(subscription.unsubscribe)
    expect(docker.events.open.size).toBe(0)
    const requests = docker.events.requests.length
    docker.events.emit(eventJson("start", ID))
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(docker.events.requests).toHaveLength(requests)
    expect(seen).toEqual([])
  })

  it("cancels a scheduled reconnect on unsubscribe", async () => {
    const docker = new FakeDockerApi()
    const { subscription, gaps } = await subscribed(docker)
    docker.daemon = "down"
    docker.events.breakAll()
    await new Promise((resolve) => setTimeout(resolve, 30))
    await run(subscription.unsubscribe)
    docker.daemon = "up"
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(docker.events.open.size).toBe(0)
    expect(docker.events.requests).toHaveLength(1)
    expect(gaps).toEqual([])
  })

  it("reports a gap handler that throws and carries on, passing what follows", async () => {
    const docker = new FakeDockerApi()
    const seen: Array<ContainerEvent> = []
    const errors: Array<unknown> = []
    const events = makeDockerContainerEvents(docker, { initialBackoffMs: 10, maxBackoffMs: 40, onError: (e) => errors.push(e) })
    subscriptions.push(
      await run(
        events.subscribe({
          onEvent: (e) => seen.push(e),
          onGap: () => {
            throw new Error("a broken gap handler")
          },
        }),
      ),
    )
    await expect.poll(() => docker.events.open.size).toBe(1)
    docker.events.breakAll()
    await expect.poll(() => errors.map(String)).toContain("Error: a broken gap handler")
    docker.events.emit(eventJson("start", ID))
    await expect.poll(() => seen.map((e) => e.kind)).toEqual(["start"])
  })

  it("reports a line that is not JSON and carries on", async () => {
    const docker = new FakeDockerApi()
    const { seen, errors } = await subscribed(docker)
    for (const stream of docker.events.open) stream.write("not json\n")
    docker.events.emit(eventJson("pause", ID))
    await expect.poll(() => seen.map((e) => e.kind)).toEqual(["pause"])
    expect(errors).toHaveLength(1)
  })
})
