import { afterAll, describe, expect, it } from "vitest"
import { failureOf, run } from "@dtma/testing"
import { dockerContainerLogsFromEnv } from "../src/docker/DockerContainerLogs.ts"
import { removeAll, runPrefix, startMcpServer } from "./mcpContainers.ts"

const RUN = runPrefix("logs")

describe("DockerContainerLogs on the local Docker engine", () => {
  const logs = dockerContainerLogsFromEnv()
  afterAll(() => removeAll(RUN))

  it("reads a server's stderr lines and, asked for all, its stdout too", async () => {
    const target = await startMcpServer(RUN, "streamable_http")
    await expect
      .poll(async () => (await run(logs.tail(target.containerId, { lines: 50, streams: "all" }))).map((l) => l.stream), { timeout: 10_000 })
      .toEqual(expect.arrayContaining(["stdout", "stderr"]))
    const stderr = await run(logs.tail(target.containerId, { lines: 50, streams: "stderr" }))
    expect(stderr.length).toBeGreaterThan(0)
    expect(stderr.every((l) => l.stream === "stderr" && !l.text.includes("\n"))).toBe(true)
    expect(stderr.map((l) => l.text)).toContain("MCP Streamable HTTP Server listening on port 3001")
  })

  it("keeps only the last lines asked for", async () => {
    const target = await startMcpServer(RUN, "streamable_http", "tail")
    await expect.poll(async () => (await run(logs.tail(target.containerId, { lines: 10, streams: "all" }))).length, { timeout: 10_000 }).toBeGreaterThan(1)
    expect(await run(logs.tail(target.containerId, { lines: 1, streams: "all" }))).toHaveLength(1)
    expect(await run(logs.tail(target.containerId, { lines: 0, streams: "all" }))).toEqual([])
  })

  it("reports an absent container as not found", async () => {
    expect(await failureOf(logs.tail(`${RUN}-absent`, { lines: 5, streams: "stderr" }))).toMatchObject({ _tag: "ContainerNotFound" })
  })
})
