import { describe, expect, it } from "vitest"
import { failureOf, mcpConnectorContract, run } from "@dtma/testing"
import { encodeFrame } from "../../src/docker/multiplexedStream.ts"
import { makeSdkMcpConnector } from "../../src/mcp/SdkMcpConnector.ts"
import { createBody, FakeDockerApi } from "../docker/FakeDockerApi.ts"
import { stdioServerIn } from "./stdioServerIn.ts"

const signal = new AbortController().signal
const body = createBody

/** A fake daemon with one running container whose attach streams are served by an in-process stdio server. */
const daemonWithServer = async () => {
  const docker = new FakeDockerApi()
  docker.images.add("img")
  const id = await docker.createContainer(body, signal)
  await docker.startContainer(id, signal)
  docker.onAttach = (_id, container) => stdioServerIn(container)
  return { docker, id }
}

mcpConnectorContract("SdkMcpConnector over a fake attach stream", async () => {
  const { docker, id } = await daemonWithServer()
  return {
    connector: makeSdkMcpConnector({ docker }),
    target: { transport: "stdio", containerId: id, endpoint: null },
    unreachable: { transport: "stdio", containerId: "absent", endpoint: null },
    timeoutMs: 2_000,
  }
})

describe("SdkMcpConnector over stdio, when the server writes too long a line", () => {
  it("ends the connection at once, saying why, instead of leaving the answer's caller waiting", async () => {
    const { docker, id } = await daemonWithServer()
    docker.onAttach = (_id, container) => void container.write(encodeFrame("stdout", "x".repeat(300)))
    const channel = await run(
      makeSdkMcpConnector({ docker, maxLineBytes: 256 }).connect({ transport: "stdio", containerId: id, endpoint: null }, { timeoutMs: 2_000 }),
    )
    const reasons: Array<string> = []
    channel.onClose((reason) => reasons.push(reason))
    await expect.poll(() => reasons).toEqual(["the connection failed: the server wrote a stdout line longer than 256 bytes; it was dropped"])
  })
})

describe("SdkMcpConnector, failing to connect", () => {
  it("reports a stopped container as unreachable", async () => {
    const { docker, id } = await daemonWithServer()
    await docker.stopContainer(id, 1, signal)
    const error = await failureOf(makeSdkMcpConnector({ docker }).connect({ transport: "stdio", containerId: id, endpoint: null }, { timeoutMs: 500 }))
    expect(error).toMatchObject({ _tag: "McpConnectFailed", reason: "unreachable" })
    expect(error.detail).toContain("not running")
  })

  it("times out an attach the daemon never answers, and leaves no request behind", async () => {
    const { docker, id } = await daemonWithServer()
    docker.daemon = "silent"
    const started = Date.now()
    const error = await failureOf(makeSdkMcpConnector({ docker }).connect({ transport: "stdio", containerId: id, endpoint: null }, { timeoutMs: 200 }))
    expect(error).toMatchObject({ _tag: "McpConnectFailed", reason: "timeout" })
    expect(Date.now() - started).toBeLessThan(1_000)
    await expect.poll(() => docker.abortedRequests).toBe(1)
  })

  it("needs a URL for a network transport", async () => {
    const { docker } = await daemonWithServer()
    const error = await failureOf(makeSdkMcpConnector({ docker }).connect({ transport: "sse", containerId: "c", endpoint: null }, { timeoutMs: 200 }))
    expect(error).toMatchObject({ _tag: "McpConnectFailed", reason: "unreachable" })
  })
})
