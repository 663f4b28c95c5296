import { createServer, type Server } from "node:net"
import Dockerode from "dockerode"
import { Redacted } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import type { InstanceSpec } from "@dtma/domain"
import { containerRuntimeContract, failureOf, run } from "@dtma/testing"
import { dockerApiOf } from "../../src/docker/DockerApi.ts"
import { dockerContainerEventsFromEnv } from "../../src/docker/DockerContainerEvents.ts"
import { containerNameFor } from "../../src/docker/containerName.ts"
import { dockerContainerRuntimeFromEnv, makeDockerContainerRuntime } from "../../src/docker/DockerContainerRuntime.ts"

// Built locally by scripts/build-images.sh: GET / answers the names of its TOOL_* variables.
const IMAGE = "dtma/example-http:1"
const RUN = `dtma-test-${Math.random().toString(36).slice(2, 8)}`
const docker = new Dockerode()

containerRuntimeContract("DockerContainerRuntime on the local Docker engine", async () => {
  const events = dockerContainerEventsFromEnv()
  const held: Array<string> = []
  return {
    runtime: dockerContainerRuntimeFromEnv({ events }),
    image: IMAGE,
    imageUser: "1000:1000",
    holdName: async (containerName) => {
      held.push((await docker.createContainer({ name: containerName, Image: IMAGE, Labels: { "dtma.managed": "false" } })).id)
    },
    kill: (containerId) => docker.getContainer(containerId).kill(),
    cleanup: async () => void (await Promise.all(held.map((id) => docker.getContainer(id).remove({ force: true })))),
  }
})

const spec = (suffix: string, overrides: Partial<InstanceSpec> = {}): InstanceSpec => ({
  name: `${RUN} ${suffix}`,
  accountToolInstanceId: null,
  image: IMAGE,
  kind: "standard_tool",
  env: [{ name: "TOOL_SECRET", value: Redacted.make(`value-of-${RUN}`) }],
  ports: [{ containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null }],
  pullPolicy: "never",
  mcp: null,
  command: null,
  ...overrides,
})

const getJson = async (url: string, withinMs: number): Promise<unknown> => {
  const deadline = Date.now() + withinMs
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) })
      return await res.json()
    } catch (error) {
      // docker-proxy accepts before the server listens: early requests are reset.
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const server = createServer().once("error", reject)
    server.listen(port, "127.0.0.1", () => resolve(server))
  })

describe("DockerContainerRuntime on the local Docker engine", () => {
  const runtime = dockerContainerRuntimeFromEnv()

  afterAll(async () => {
    const mine = await docker.listContainers({ all: true, filters: { name: [RUN] } })
    await Promise.all(mine.map((c) => docker.getContainer(c.Id).remove({ force: true })))
  })

  it("runs the image with its env on a random loopback port, and labels hold no env value", async () => {
    const { containerId } = await run(runtime.create(spec("http")))
    const running = await run(runtime.start(containerId))
    const [published] = running.ports
    expect(published).toMatchObject({ containerPort: 8080, hostIp: "127.0.0.1", hostPort: expect.any(Number) })
    expect(await getJson(`http://127.0.0.1:${published?.hostPort}/`, 10_000)).toMatchObject({ ok: true, envNames: ["TOOL_SECRET"] })
    const raw = await docker.getContainer(containerId).inspect()
    expect(raw.Config.Env).toContain(`TOOL_SECRET=value-of-${RUN}`)
    expect(JSON.stringify(raw.Config.Labels)).not.toContain(`value-of-${RUN}`)
    expect(raw.Config.Labels["dtma.env-names"]).toBe('["TOOL_SECRET"]')
  })

  it("stops well within the grace period because an init forwards SIGTERM", async () => {
    const { containerId } = await run(runtime.create(spec("stop")))
    const running = await run(runtime.start(containerId))
    // Ready first: a SIGTERM that lands before Node installs its handler kills it (exit 143).
    await getJson(`http://127.0.0.1:${running.ports[0]?.hostPort}/`, 10_000)
    const started = Date.now()
    const stopped = await run(runtime.stop(containerId, 10))
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(stopped).toMatchObject({ state: "exited", exitCode: 0 })
    expect(stopped.ports).toEqual([{ containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null }])
  })

  it("reports a host port a process outside Docker holds as HostPortUnavailable", async () => {
    const server = await listen(0)
    const address = server.address()
    const hostPort = typeof address === "object" && address !== null ? address.port : 0
    try {
      const ports = [{ containerPort: 8080, protocol: "tcp" as const, hostIp: "127.0.0.1", hostPort }]
      const { containerId } = await run(runtime.create(spec("busy", { ports })))
      expect(await failureOf(runtime.start(containerId))).toMatchObject({ _tag: "HostPortUnavailable", hostPort })
      expect((await run(runtime.get(containerId))).state).toBe("created")
    } finally {
      server.close()
    }
  })

  it("sees a name held by a container it did not create as a conflict, and leaves that container alone", async () => {
    const containerName = containerNameFor(spec("foreign").name)
    const foreign = await docker.createContainer({ name: containerName, Image: IMAGE, Labels: { "dtma.managed": "false" } })
    expect(await failureOf(runtime.create(spec("foreign")))).toMatchObject({ _tag: "ContainerNameConflict", containerName })
    expect((await run(runtime.list())).some((c) => c.containerId === foreign.id)).toBe(false)
    expect(await failureOf(runtime.get(foreign.id))).toMatchObject({ _tag: "ContainerNotFound" })
    await run(runtime.remove(foreign.id))
    expect((await foreign.inspect()).Id).toBe(foreign.id)
  })

  it("reports a missing Docker socket as RuntimeUnavailable", async () => {
    const nowhere = makeDockerContainerRuntime(dockerApiOf(new Dockerode({ socketPath: `/tmp/${RUN}-absent.sock` })))
    expect(await failureOf(nowhere.list())).toMatchObject({ _tag: "RuntimeUnavailable" })
    expect(await failureOf(nowhere.ensureImage(IMAGE, "if_not_present"))).toMatchObject({ _tag: "RuntimeUnavailable" })
  })

  it("fails fast to pull an absent image when no registry is reachable", async () => {
    const started = Date.now()
    const error = await failureOf(runtime.ensureImage(`dtma-test/absent-${RUN}:1`, "always"))
    expect(error).toMatchObject({ _tag: "ImageUnavailable", reason: "pull_failed" })
    expect(Date.now() - started).toBeLessThan(30_000)
  })
})
