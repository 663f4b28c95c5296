import Dockerode from "dockerode"
import { afterAll, describe, expect, it } from "vitest"
import type { ContainerEvent } from "@dtma/domain"
import { containerEventsContract, run, type ContainerBehaviour } from "@dtma/testing"
import { dockerApiOf, type DockerApi } from "../../src/docker/DockerApi.ts"
import { dockerContainerEventsFromEnv, makeDockerContainerEvents } from "../../src/docker/DockerContainerEvents.ts"
import { makeDockerContainerRuntime } from "../../src/docker/DockerContainerRuntime.ts"
import { eventContainerSpec } from "./eventContainerSpec.ts"
import { docker, mcpSpec, removeAll, removeScopes, runPrefix, runtime } from "../mcp/mcpContainers.ts"

const RUN = runPrefix("events")

/**
 * The engine's API with an event feed that can be cut: `cut` ends every open feed and refuses new
 * ones as a daemon that went away would, `mend` lets them through again. The engine itself stays up.
 */
const cuttableFeed = (api: DockerApi) => {
  type Feed = NodeJS.ReadableStream & { destroy(): void }
  let cut = false
  const open = new Set<Feed>()
  const refused = () => Object.assign(new Error("connect ECONNREFUSED /var/run/docker.sock"), { code: "ECONNREFUSED" })
  const containerEvents: DockerApi["containerEvents"] = async (request, signal) => {
    if (cut) throw refused()
    const stream = (await api.containerEvents(request, signal)) as Feed
    if (cut) {
      stream.destroy()
      throw refused()
    }
    open.add(stream)
    stream.once("close", () => open.delete(stream))
    return stream
  }
  return {
    api: { ...api, containerEvents },
    cut: () => {
      cut = true
      for (const stream of open) stream.destroy()
    },
    mend: () => void (cut = false),
  }
}

containerEventsContract(
  "DockerContainerEvents on the local Docker engine",
  async () => {
    const scope = `${RUN}-${Math.random().toString(36).slice(2, 8)}`
    const engine = dockerApiOf(new Dockerode())
    const feed = cuttableFeed(engine)
    const [ours, theirs] = [makeDockerContainerRuntime(engine, { scope }), makeDockerContainerRuntime(engine, { scope: `${scope}-other` })]
    const create = async (owner: typeof ours, name: string, behaviour: ContainerBehaviour) =>
      // A replacement's container name never clashes: the contract may reuse an instance name, and other scopes share the engine.
      (await run(owner.create(eventContainerSpec({ name, behaviour }), { replacement: true }))).containerId
    return {
      events: makeDockerContainerEvents(feed.api, { scope, initialBackoffMs: 20, maxBackoffMs: 200 }),
      managed: (name, behaviour = "serves") => create(ours, name, behaviour),
      foreign: (name) => create(theirs, name, "serves"),
      start: (id) => docker.getContainer(id).start(),
      pause: (id) => docker.getContainer(id).pause(),
      unpause: (id) => docker.getContainer(id).unpause(),
      kill: (id) => docker.getContainer(id).kill({ signal: "SIGKILL" }),
      remove: (id) => docker.getContainer(id).remove({ force: true }),
      breakFeed: async () => feed.cut(),
      restoreFeed: async () => feed.mend(),
      patienceMs: 20_000,
      // The contract names its containers itself: find them by scope, not by name.
      cleanup: () => removeScopes(scope, `${scope}-other`),
    }
  },
  { timeoutMs: 60_000 },
)

describe("DockerContainerEvents on the local Docker engine", () => {
  afterAll(() => removeAll(RUN))

  it("reports start, die with its exit code and destroy of a managed container, and nothing of others", async () => {
    const seen: Array<ContainerEvent> = []
    const subscription = await run(dockerContainerEventsFromEnv().subscribe({ onEvent: (e) => seen.push(e), onGap: () => undefined }))
    try {
      const spec = mcpSpec(RUN, "stdio")
      const { containerId } = await run(runtime.create(spec))
      const foreign = await docker.createContainer({ name: `${RUN}-foreign`, Image: spec.image })
      await foreign.start()
      await foreign.remove({ force: true })
      await run(runtime.start(containerId))
      await docker.getContainer(containerId).kill({ signal: "SIGKILL" })
      await run(runtime.remove(containerId))
      // Other suites may run managed containers meanwhile: look at ours and at the foreign one only.
      const ours = () => seen.filter((e) => e.containerId === containerId)
      await expect.poll(() => ours().map((e) => e.kind), { timeout: 10_000 }).toEqual(["start", "die", "destroy"])
      expect(ours().every((e) => e.name === spec.name)).toBe(true)
      expect(ours()[1]).toMatchObject({ kind: "die", exitCode: 137 })
      expect(Math.abs((ours()[0]?.at ?? 0) - Date.now())).toBeLessThan(60_000)
      expect(seen.some((e) => e.containerId === foreign.id)).toBe(false)
    } finally {
      await run(subscription.unsubscribe)
    }
  })
})
