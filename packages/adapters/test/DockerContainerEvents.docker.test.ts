import { afterAll, describe, expect, it } from "vitest"
import type { ContainerEvent } from "@dtma/domain"
import { run } from "@dtma/testing"
import { dockerContainerEventsFromEnv } from "../src/docker/DockerContainerEvents.ts"
import { docker, mcpSpec, removeAll, runPrefix, runtime } from "./mcpContainers.ts"

const RUN = runPrefix("events")

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
