import { afterAll, describe, expect, it } from "vitest"
import { containerLogsContract, run } from "@dtma/testing"
import type { LogLine } from "@dtma/domain"
import { makeDockerContainerRuntime } from "../../src/docker/DockerContainerRuntime.ts"
import { dockerApiOf } from "../../src/docker/DockerApi.ts"
import { makeDockerOutputCapture } from "../../src/docker/DockerOutputCapture.ts"
import { docker, mcpSpec, removeAll, runPrefix } from "../mcp/mcpContainers.ts"

const RUN = runPrefix("output")
const NODE = "dtma/node-base:24"

const api = dockerApiOf(docker)
const capture = makeDockerOutputCapture(api)
const runtime = makeDockerContainerRuntime(api, { output: capture })
let next = 0

/** A script that writes the lines in order, 30 ms apart (Docker copies the two streams separately), then exits. */
const scriptOf = (lines: ReadonlyArray<LogLine>) =>
  `const lines = ${JSON.stringify(lines)}; let i = 0; ` +
  `const step = () => { const l = lines[i++]; if (!l) return; process[l.stream].write(l.text + "\\n"); setTimeout(step, 30) }; step()`

containerLogsContract(
  "DockerOutputCapture on the local Docker engine",
  async () => ({
    logs: capture.logs,
    absentId: `${RUN}-absent`,
    containerThatWrote: async (kind, lines) => {
      const base = mcpSpec(RUN, kind === "stdio" ? "stdio" : "streamable_http", `c${next++}`)
      const { containerId } = await run(runtime.create({ ...base, image: NODE, command: ["node", "-e", scriptOf(lines)] }))
      await run(runtime.start(containerId))
      await docker.getContainer(containerId).wait()
      // The attachment ends with the container; what it carried is in by then.
      await new Promise((resolve) => setTimeout(resolve, 200))
      return containerId
    },
  }),
  { timeoutMs: 30_000 },
)

describe("MCP servers' output on the local Docker engine", () => {
  afterAll(() => removeAll(RUN))

  it("is kept from a server's very first line and never written to a log file by Docker", async () => {
    const { containerId } = await run(runtime.create(mcpSpec(RUN, "stdio", "everything")))
    await run(runtime.start(containerId))
    await expect
      .poll(async () => (await run(capture.logs.tail(containerId, { lines: 5, streams: "stderr" }))).map((l) => l.text), { timeout: 15_000 })
      .toContain("Starting default (STDIO) server...")
    const inspected = await docker.getContainer(containerId).inspect()
    expect(inspected.HostConfig.LogConfig).toEqual({ Type: "none", Config: {} })
    expect(inspected.LogPath).toBe("")
  })
})
