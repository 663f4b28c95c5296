import { createServer } from "node:net"
import * as Redacted from "effect/Redacted"
import { failureOf, run } from "../effects.ts"
import { afterAll, describe, expect, it } from "vitest"
import type { ContainerRuntime, InstanceSpec } from "@dtma/domain"

export interface ContainerRuntimeSubject {
  readonly runtime: ContainerRuntime
  /** An image present locally whose container keeps running once started. */
  readonly image: string
  /** The user `image` declares (`USER`), as `imageUser` should report it. */
  readonly imageUser: string | null
  /** Gives a container the runtime did not create the container name, as another client of the engine would. */
  readonly holdName: (containerName: string) => Promise<void>
  /** Kills a running container behind the runtime's back (`docker kill`). */
  readonly kill: (containerId: string) => Promise<void>
  /** Removes whatever the run left behind. */
  readonly cleanup?: () => Promise<void>
}

const suffix = () => Math.random().toString(36).slice(2, 10)
/** What a container name may be (Docker's rule): the runtime maps instance names to such names. */
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
/**
 * A host port for conflict tests that nothing holds now, below the ephemeral range (32768+) where
 * Docker picks random host ports, so another test's random port cannot take it meanwhile.
 */
const randomHostPort = async (): Promise<number> => {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 9000)
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer()
      probe.once("error", () => resolve(false))
      probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)))
    })
    if (free) return port
  }
}

const specFor = (image: string, overrides: Partial<InstanceSpec> = {}): InstanceSpec => {
  const name = `contract-${suffix()}`
  return {
    name,
    accountToolInstanceId: `ati-${suffix()}`,
    image,
    kind: "standard_tool",
    env: [{ name: "TOOL_SECRET", value: Redacted.make("s3cr3t-value") }],
    ports: [],
    pullPolicy: "if_not_present",
    mcp: null,
    command: null,
    ...overrides,
  }
}

/** Behaviour every ContainerRuntime must have; run on the fake always and on Docker in the Docker suite. */
export const containerRuntimeContract = (label: string, setup: () => Promise<ContainerRuntimeSubject>): void => {
  describe(`ContainerRuntime contract: ${label}`, () => {
    let subject: ContainerRuntimeSubject | undefined
    const get = async () => (subject ??= await setup())
    afterAll(async () => {
      if (subject === undefined) return
      const mine = (await run(subject.runtime.list())).filter((c) => c.name.startsWith("contract-"))
      for (const c of mine) await run(subject.runtime.remove(c.containerId))
      await subject.cleanup?.()
    })

    it("creates a managed container that list reports with everything the spec named", async () => {
      const { runtime, image } = await get()
      const spec = specFor(image, { kind: "mcp_server", mcp: { transport: "sse", endpointPath: "/sse", port: 8080 } })
      const created = await run(runtime.create(spec))
      expect(created).toMatchObject({ name: spec.name, containerName: spec.name, kind: "mcp_server", state: "created", startedAt: null })
      const listed = (await run(runtime.list())).find((c) => c.containerId === created.containerId)
      expect(listed).toMatchObject({
        name: spec.name,
        containerName: spec.name,
        accountToolInstanceId: spec.accountToolInstanceId,
        kind: "mcp_server",
        image,
        mcp: spec.mcp,
        startedAt: null,
      })
      expect(JSON.stringify(listed)).not.toContain("s3cr3t-value")
    })

    it("gives back the recipe a container was created with (command, ports, pull policy, overrides), to create it again the same way", async () => {
      const { runtime, image } = await get()
      const recipe = {
        command: ["sse", "--verbose"],
        ports: [{ containerPort: 9090, protocol: "tcp" as const, hostIp: "127.0.0.1", hostPort: null }],
        pullPolicy: "never" as const,
        overrides: {
          entrypoint: null,
          workingDir: "/srv",
          user: "1000:1000",
          labels: { team: "search" },
          memoryBytes: 128 * 1024 * 1024,
          nanoCpus: null,
          pidsLimit: 64,
          tmpfs: { "/cache": "rw,noexec,nosuid,size=8m" },
        },
      }
      const spec = specFor(image, { kind: "mcp_server", mcp: { transport: "sse", endpointPath: "/sse", port: 8080 }, ...recipe })
      const { containerId } = await run(runtime.create(spec))
      expect((await run(runtime.get(containerId))).recipe).toEqual(recipe)
      expect((await run(runtime.list())).find((c) => c.containerId === containerId)?.recipe).toEqual(recipe)
    })

    it("reports the id of the image a container runs, the same for two containers of one image", async () => {
      const { runtime, image } = await get()
      const [a, b] = [await run(runtime.create(specFor(image))), await run(runtime.create(specFor(image)))]
      const imageId = (await run(runtime.get(a.containerId))).imageId
      expect(imageId).toMatch(/^sha256:./)
      expect((await run(runtime.get(b.containerId))).imageId).toBe(imageId)
      expect((await run(runtime.list())).find((c) => c.containerId === b.containerId)?.imageId).toBe(imageId)
      expect((await run(runtime.start(a.containerId))).imageId).toBe(imageId)
    })

    it("gives back the environment it was given, values still redacted", async () => {
      const { runtime, image } = await get()
      const { containerId } = await run(runtime.create(specFor(image)))
      const env = await run(runtime.environmentOf(containerId))
      expect(env.map((e) => [e.name, Redacted.value(e.value)])).toEqual([["TOOL_SECRET", "s3cr3t-value"]])
      expect(JSON.stringify(env)).not.toContain("s3cr3t-value")
    })

    it("refuses a container for a name that has one already, unless it is a replacement", async () => {
      const { runtime, image } = await get()
      const spec = specFor(image)
      await run(runtime.create(spec))
      const error = await failureOf(runtime.create(spec))
      expect(error).toMatchObject({ _tag: "ContainerNameConflict", containerName: spec.name })
    })

    it("refuses a container name a container it did not create holds", async () => {
      const { runtime, image, holdName } = await get()
      const spec = specFor(image)
      await holdName(spec.name)
      expect(await failureOf(runtime.create(spec))).toMatchObject({ _tag: "ContainerNameConflict", containerName: spec.name })
      expect((await run(runtime.list())).some((c) => c.name === spec.name)).toBe(false)
    })

    it("maps a name it cannot give a container to a container name it can, and reports the name as given", async () => {
      const { runtime, image } = await get()
      const spec = specFor(image, { name: `contract-${suffix()} with spaces: ${suffix()}` })
      const created = await run(runtime.create(spec))
      expect(created.containerName).toMatch(CONTAINER_NAME)
      expect(created.containerName).not.toBe(spec.name)
      expect(await run(runtime.get(created.containerId))).toMatchObject({ name: spec.name, containerName: created.containerName })
      expect(await failureOf(runtime.create(spec))).toMatchObject({ _tag: "ContainerNameConflict", containerName: created.containerName })
    })

    it("gives a replacement a container name none of the instance's containers holds, each time", async () => {
      const { runtime, image } = await get()
      const spec = specFor(image)
      const first = await run(runtime.create(spec))
      const second = await run(runtime.create(spec, { replacement: true }))
      expect(second.containerName).toMatch(CONTAINER_NAME)
      expect(second.containerName).not.toBe(first.containerName)
      await run(runtime.remove(first.containerId))
      const third = await run(runtime.create(spec, { replacement: true }))
      expect(third.containerName).not.toBe(second.containerName)
      const names = (await run(runtime.list())).filter((c) => c.name === spec.name).map((c) => c.containerName)
      expect(names.sort()).toEqual([second.containerName, third.containerName].sort())
    })

    it("lists a container killed behind its back as exited, however recently it was listed running", async () => {
      const { runtime, image, kill } = await get()
      const { containerId } = await run(runtime.create(specFor(image)))
      await run(runtime.start(containerId))
      expect((await run(runtime.list())).find((c) => c.containerId === containerId)?.state).toBe("running")
      await kill(containerId)
      expect((await run(runtime.list())).find((c) => c.containerId === containerId)).toMatchObject({ state: "exited", exitCode: 137 })
    })

    it("starts, stops and starts again, idempotently", async () => {
      const { runtime, image } = await get()
      const { containerId } = await run(runtime.create(specFor(image)))
      expect((await run(runtime.start(containerId))).state).toBe("running")
      expect((await run(runtime.start(containerId))).state).toBe("running")
      const stopped = await run(runtime.stop(containerId, 5))
      expect(stopped.state).toBe("exited")
      expect((await run(runtime.stop(containerId, 5))).state).toBe("exited")
      const again = await run(runtime.start(containerId))
      expect(again.state).toBe("running")
      expect(again.startedAt).not.toBeNull()
    })

    it("removes a running container, and removing it again succeeds", async () => {
      const { runtime, image } = await get()
      const { containerId } = await run(runtime.create(specFor(image)))
      await run(runtime.start(containerId))
      await run(runtime.remove(containerId))
      await run(runtime.remove(containerId))
      expect((await run(runtime.list())).some((c) => c.containerId === containerId)).toBe(false)
      expect(await failureOf(runtime.get(containerId))).toMatchObject({ _tag: "ContainerNotFound" })
    })

    it("reports an unknown container as not found on start and stop", async () => {
      const { runtime } = await get()
      expect(await failureOf(runtime.start("0123456789ab0123456789ab"))).toMatchObject({ _tag: "ContainerNotFound" })
      expect(await failureOf(runtime.stop("0123456789ab0123456789ab", 1))).toMatchObject({ _tag: "ContainerNotFound" })
    })

    it("publishes a requested host port and a random one when none is given", async () => {
      const { runtime, image } = await get()
      const hostPort = await randomHostPort()
      const spec = specFor(image, {
        ports: [
          { containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort },
          { containerPort: 9090, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null },
        ],
      })
      const { containerId } = await run(runtime.create(spec))
      const running = await run(runtime.start(containerId))
      const byContainerPort = new Map(running.ports.map((p) => [p.containerPort, p.hostPort]))
      expect(byContainerPort.get(8080)).toBe(hostPort)
      expect(byContainerPort.get(9090)).toEqual(expect.any(Number))
    })

    it("fails a start whose host port another container holds", async () => {
      const { runtime, image } = await get()
      const hostPort = await randomHostPort()
      const ports = [{ containerPort: 8080, protocol: "tcp" as const, hostIp: "127.0.0.1", hostPort }]
      const first = await run(runtime.create(specFor(image, { ports })))
      await run(runtime.start(first.containerId))
      const second = await run(runtime.create(specFor(image, { ports })))
      expect(await failureOf(runtime.start(second.containerId))).toMatchObject({ _tag: "HostPortUnavailable", hostPort })
      expect((await run(runtime.get(second.containerId))).state).not.toBe("running")
    })

    it("keeps a local image under if_not_present and never", async () => {
      const { runtime, image } = await get()
      await expect(run(runtime.ensureImage(image, "if_not_present"))).resolves.toBeUndefined()
      await expect(run(runtime.ensureImage(image, "never"))).resolves.toBeUndefined()
    })

    it("reports the user an image's containers run as, and an absent image as unavailable", async () => {
      const { runtime, image, imageUser } = await get()
      expect(await run(runtime.imageUser(image))).toBe(imageUser)
      expect(await failureOf(runtime.imageUser(`dtma-contract/absent-${suffix()}:1`))).toMatchObject({ _tag: "ImageUnavailable", reason: "not_found" })
    })

    it("reports an absent image that cannot be pulled as unavailable", async () => {
      const { runtime } = await get()
      const absent = `dtma-contract/absent-${suffix()}:1`
      expect(await failureOf(runtime.ensureImage(absent, "never"))).toMatchObject({ _tag: "ImageUnavailable", reason: "not_found" })
      const pulled = await failureOf(runtime.ensureImage(absent, "if_not_present"))
      expect(pulled).toMatchObject({ _tag: "ImageUnavailable", image: absent })
      expect(["pull_failed", "pull_timeout"]).toContain((pulled as { reason: string }).reason)
    })
  })
}
