import { Redacted } from "effect"
import { beforeEach, describe, expect, it } from "vitest"
import type { ContainerRuntime, InstanceSpec } from "@dtma/domain"
import { InMemoryContainerEvents, run, settle } from "@dtma/testing"
import { makeDockerContainerEvents } from "../../src/docker/DockerContainerEvents.ts"
import { makeDockerContainerRuntime } from "../../src/docker/DockerContainerRuntime.ts"
import { FakeDockerApi } from "./FakeDockerApi.ts"

const IMAGE = "dtma/example-http:1"

const spec = (name: string): InstanceSpec => ({
  name,
  accountToolInstanceId: null,
  image: IMAGE,
  kind: "standard_tool",
  env: [{ name: "TOKEN", value: Redacted.make("t") }],
  ports: [{ containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null }],
  pullPolicy: "never",
  mcp: null,
  command: null,
})

describe("DockerContainerRuntime's inventory, over a fake Docker API", () => {
  let docker: FakeDockerApi
  let events: InMemoryContainerEvents
  let runtime: ContainerRuntime
  /** Ten running containers, made behind the runtime's back. */
  let ids: ReadonlyArray<string>
  beforeEach(async () => {
    docker = new FakeDockerApi()
    docker.images.add(IMAGE)
    events = new InMemoryContainerEvents()
    runtime = makeDockerContainerRuntime(docker, { events })
    const maker = makeDockerContainerRuntime(docker)
    const made = async (name: string) => (await run(maker.start((await run(maker.create(spec(name)))).containerId))).containerId
    ids = await Promise.all(Array.from({ length: 10 }, (_, i) => made(`tool-${i}`)))
    docker.calls.inspectContainer = 0
    docker.calls.listContainers = 0
  })

  /** The Docker calls `body` makes. */
  const callsOf = async (body: () => Promise<unknown>) => {
    const before = { ...docker.calls }
    await body()
    return { inspects: docker.calls.inspectContainer - before.inspectContainer, lists: docker.calls.listContainers - before.listContainers }
  }

  it("inspects each of ten containers once over three lists with no event between", async () => {
    const calls = await callsOf(async () => {
      for (let i = 0; i < 3; i++) expect(await run(runtime.list())).toHaveLength(10)
    })
    expect(calls).toEqual({ inspects: 10, lists: 3 })
  })

  it("inspects again exactly the container an event was about, and answers what it found", async () => {
    await run(runtime.list())
    const [restarted = ""] = ids
    const before = (await run(runtime.list())).find((c) => c.containerId === restarted)
    docker.restart(restarted)
    events.emit({ kind: "die", containerId: restarted, name: "tool-0", exitCode: 0, at: Date.now() })
    events.emit({ kind: "start", containerId: restarted, name: "tool-0", exitCode: null, at: Date.now() })
    let after: ReadonlyArray<{ containerId: string; startedAt: string | null; ports: ReadonlyArray<unknown> }> = []
    expect(await callsOf(async () => (after = await run(runtime.list())))).toEqual({ inspects: 1, lists: 1 })
    const seen = after.find((c) => c.containerId === restarted)
    expect(seen?.startedAt).not.toBe(before?.startedAt)
    expect(seen?.ports).not.toEqual(before?.ports)
  })

  it("inspects every container again after a gap in the events", async () => {
    await run(runtime.list())
    events.simulateGap()
    expect(await callsOf(() => run(runtime.list()))).toEqual({ inspects: 10, lists: 1 })
  })

  it("lists a container killed behind its back as exited before the event of it arrives", async () => {
    await run(runtime.list())
    const [killed = ""] = ids
    docker.kill(killed)
    let listed: ReadonlyArray<{ containerId: string; state: string }> = []
    expect(await callsOf(async () => (listed = await run(runtime.list())))).toEqual({ inspects: 1, lists: 1 })
    expect(listed.find((c) => c.containerId === killed)?.state).toBe("exited")
  })

  it("does not make current what an inspect in flight when an event came found", async () => {
    let release = () => {}
    docker.inspectGate = new Promise<void>((resolve) => (release = resolve))
    const listing = run(runtime.list())
    await settle()
    const [touched = ""] = ids
    events.emit({ kind: "die", containerId: touched, name: "tool-0", exitCode: 0, at: Date.now() })
    docker.inspectGate = null
    release()
    await listing
    expect(await callsOf(() => run(runtime.list()))).toEqual({ inspects: 1, lists: 1 })
  })

  it("inspects a new container once: its create is answered as created, its start inspects it, and lists do not again", async () => {
    await run(runtime.list())
    const calls = await callsOf(async () => {
      const created = await run(runtime.create(spec("new")))
      expect(created).toMatchObject({ name: "new", containerName: "new", state: "created", imageId: null })
      await run(runtime.start(created.containerId))
      events.emit({ kind: "start", containerId: created.containerId, name: "new", exitCode: null, at: Date.now() })
      expect(await run(runtime.list())).toHaveLength(11)
      expect(await run(runtime.list())).toHaveLength(11)
    })
    expect(calls).toEqual({ inspects: 1, lists: 2 })
  })

  it("answers a create with what an inspect shows of the container, but the image id", async () => {
    const created = await run(runtime.create({ ...spec("new"), kind: "mcp_server", mcp: { transport: "sse", endpointPath: "/sse", port: 8080 } }))
    const { imageId, createdAt: _, ...inspected } = await run(runtime.get(created.containerId))
    const { imageId: none, createdAt: __, ...answered } = created
    expect(answered).toEqual(inspected)
    expect([none, imageId]).toEqual([null, `sha256:${IMAGE}`])
  })

  it("lists a container the runtime inspected before following the events in full, once", async () => {
    await run(runtime.get(ids[0] ?? ""))
    expect(await callsOf(() => run(runtime.list()))).toEqual({ inspects: 10, lists: 1 })
    expect(events.subscriberCount).toBe(1)
  })

  it("inspects every container on every list without an event feed", async () => {
    const blind = makeDockerContainerRuntime(docker)
    expect(
      await callsOf(async () => {
        await run(blind.list())
        await run(blind.list())
      }),
    ).toEqual({ inspects: 20, lists: 2 })
  })

  it("keeps current from Docker's own event feed: a restart costs one inspect, its own start and stop none", async () => {
    const followed = makeDockerContainerRuntime(docker, { events: makeDockerContainerEvents(docker) })
    await run(followed.list())
    await settle()
    const [restarted = "", stopped = ""] = ids
    docker.restart(restarted)
    await settle()
    expect(await callsOf(() => run(followed.list()))).toEqual({ inspects: 1, lists: 1 })
    await run(followed.stop(stopped, 1))
    await settle()
    expect(await callsOf(() => run(followed.list()))).toEqual({ inspects: 0, lists: 1 })
  })
})
