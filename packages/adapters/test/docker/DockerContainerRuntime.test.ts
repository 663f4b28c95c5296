import { Redacted, type Effect } from "effect"
import { beforeEach, describe, expect, it } from "vitest"
import type { ContainerRuntime, InstanceSpec } from "@dtma/domain"
import { containerRuntimeContract, failureOf, run } from "@dtma/testing"
import { makeDockerContainerEvents } from "../../src/docker/DockerContainerEvents.ts"
import { makeDockerContainerRuntime } from "../../src/docker/DockerContainerRuntime.ts"
import { FakeDockerApi, httpError } from "./FakeDockerApi.ts"

const IMAGE = "dtma/example-http:1"

containerRuntimeContract("DockerContainerRuntime over a fake Docker API", async () => {
  const docker = new FakeDockerApi()
  docker.images.add(IMAGE)
  return {
    runtime: makeDockerContainerRuntime(docker, { events: makeDockerContainerEvents(docker) }),
    image: IMAGE,
    imageUser: "1000:1000",
    holdName: async (containerName) => void docker.addForeign(containerName),
    kill: async (containerId) => docker.kill(containerId),
  }
})

const spec = (name: string, overrides: Partial<InstanceSpec> = {}): InstanceSpec => ({
  name,
  accountToolInstanceId: null,
  image: IMAGE,
  kind: "standard_tool",
  env: [{ name: "TOKEN", value: Redacted.make("tok-9f8e7d") }],
  ports: [],
  pullPolicy: "if_not_present",
  mcp: null,
  command: null,
  ...overrides,
})

describe("DockerContainerRuntime over a fake Docker API", () => {
  let docker: FakeDockerApi
  let runtime: ContainerRuntime
  beforeEach(() => {
    docker = new FakeDockerApi()
    docker.images.add(IMAGE)
    runtime = makeDockerContainerRuntime(docker, { pullTimeoutMs: 200, requestTimeoutMs: 200 })
  })

  it("gives the container its env values while list shows neither them nor anything of them", async () => {
    const { containerId } = await run(runtime.create(spec("a")))
    expect(docker.envOf(containerId)).toEqual(["TOKEN=tok-9f8e7d"])
    expect(JSON.stringify(await run(runtime.list()))).not.toContain("tok-9f8e7d")
  })

  it("reports a name a foreign container holds as a name conflict", async () => {
    docker.addForeign("taken")
    expect(await failureOf(runtime.create(spec("taken")))).toMatchObject({ _tag: "ContainerNameConflict", containerName: "taken" })
  })

  it("keeps env values out of a refused create's message", async () => {
    docker.refuseNextCreate = httpError(400, "bad parameter", "invalid environment variable: TOKEN=tok-9f8e7d")
    const error = await failureOf(runtime.create(spec("a")))
    expect(error).toMatchObject({ _tag: "RuntimeOperationFailed", operation: "create" })
    expect(error.message).not.toContain("tok-9f8e7d")
  })

  it("maps a host port another process holds to HostPortUnavailable and leaves the container created", async () => {
    docker.busyHostPorts.add(18080)
    const ports = [{ containerPort: 8080, protocol: "tcp" as const, hostIp: "127.0.0.1", hostPort: 18080 }]
    const { containerId } = await run(runtime.create(spec("a", { ports })))
    expect(await failureOf(runtime.start(containerId))).toMatchObject({ _tag: "HostPortUnavailable", hostPort: 18080 })
    expect(await run(runtime.get(containerId))).toMatchObject({ state: "created", startedAt: null })
  })

  it("stops a never-started container without error", async () => {
    const { containerId } = await run(runtime.create(spec("a")))
    expect((await run(runtime.stop(containerId, 1))).state).toBe("created")
  })

  it("treats containers it did not create as absent, and never removes them", async () => {
    const foreign = docker.addForeign("theirs", { "dtma.managed": "false" })
    expect(await run(runtime.list())).toEqual([])
    expect(await failureOf(runtime.get(foreign))).toMatchObject({ _tag: "ContainerNotFound" })
    expect(await failureOf(runtime.start(foreign))).toMatchObject({ _tag: "ContainerNotFound" })
    expect(await failureOf(runtime.stop(foreign, 1))).toMatchObject({ _tag: "ContainerNotFound" })
    await run(runtime.remove(foreign))
    expect(docker.has(foreign)).toBe(true)
  })

  it("lists without a container removed between Docker's list and its inspection", async () => {
    const { containerId } = await run(runtime.create(spec("a")))
    docker.ghostIds.push("f".repeat(64))
    expect((await run(runtime.list())).map((c) => c.containerId)).toEqual([containerId])
  })

  it("reports RuntimeUnavailable from every operation while the daemon is down", async () => {
    const { containerId } = await run(runtime.create(spec("a")))
    docker.daemon = "down"
    const every: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
      runtime.list(),
      runtime.get(containerId),
      runtime.create(spec("b")),
      runtime.start(containerId),
      runtime.stop(containerId, 1),
      runtime.remove(containerId),
      runtime.ensureImage(IMAGE, "always"),
      runtime.ensureImage(IMAGE, "never"),
    ]
    for (const effect of every) {
      expect(await failureOf(effect)).toMatchObject({ _tag: "RuntimeUnavailable" })
    }
  })

  it("gives up on a daemon that does not answer, and aborts the request", async () => {
    docker.daemon = "silent"
    const started = Date.now()
    expect(await failureOf(runtime.list())).toMatchObject({ _tag: "RuntimeUnavailable" })
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(docker.abortedRequests).toBe(1)
  })
})

describe("DockerContainerRuntime.ensureImage over a fake Docker API", () => {
  let docker: FakeDockerApi
  let runtime: ContainerRuntime
  beforeEach(() => {
    docker = new FakeDockerApi()
    runtime = makeDockerContainerRuntime(docker, { pullTimeoutMs: 200 })
  })

  it.each([
    ["never", true, 0],
    ["if_not_present", true, 0],
    ["if_not_present", false, 1],
    ["always", true, 1],
    ["always", false, 1],
  ] as const)("under %s with the image present: %s, pulls %i time(s)", async (policy, present, pulls) => {
    docker.registry.add(IMAGE)
    if (present) docker.images.add(IMAGE)
    await run(runtime.ensureImage(IMAGE, policy))
    expect(docker.pulls).toBe(pulls)
    expect(docker.images.has(IMAGE)).toBe(true)
  })

  it("does not pull an absent image under never", async () => {
    docker.registry.add(IMAGE)
    expect(await failureOf(runtime.ensureImage(IMAGE, "never"))).toMatchObject({ _tag: "ImageUnavailable", reason: "not_found" })
    expect(docker.pulls).toBe(0)
  })

  it("reports a refused pull as pull_failed with Docker's reason", async () => {
    expect(await failureOf(runtime.ensureImage(IMAGE, "if_not_present"))).toMatchObject({
      _tag: "ImageUnavailable",
      reason: "pull_failed",
      detail: expect.stringContaining("pull access denied"),
    })
  })

  it("fails a pull that never finishes as pull_timeout within the timeout, aborting it", async () => {
    docker.pull = "silent"
    const started = Date.now()
    expect(await failureOf(runtime.ensureImage(IMAGE, "always"))).toMatchObject({ _tag: "ImageUnavailable", reason: "pull_timeout" })
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(docker.abortedRequests).toBe(1)
  })
})
