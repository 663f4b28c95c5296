import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import type { JsonRpcMessage, McpChannel, McpTarget, McpTransport } from "@dtma/domain"
import { mcpConnectorContract, run } from "@dtma/testing"
import { sdkMcpConnectorFromEnv } from "../../src/mcp/SdkMcpConnector.ts"
import { docker, freePort, removeAll, runPrefix, runtime, startMcpServer } from "./mcpContainers.ts"

const RUN = runPrefix("mcp")
const connector = sdkMcpConnectorFromEnv()
const TRANSPORTS: ReadonlyArray<McpTransport> = ["stdio", "sse", "streamable_http", "websocket"]

const unreachableFor = async (transport: McpTransport): Promise<McpTarget> => {
  if (transport === "stdio") return { transport, containerId: `${RUN}-absent`, endpoint: null }
  return { transport, containerId: `${RUN}-absent`, endpoint: { hostPort: await freePort(), path: "/mcp" } }
}

for (const transport of TRANSPORTS) {
  mcpConnectorContract(`SdkMcpConnector over ${transport} to a hardened container`, async () => {
    const target = await startMcpServer(RUN, transport)
    const cleanup = () => run(runtime.remove(target.containerId))
    return { connector, target, unreachable: await unreachableFor(transport), timeoutMs: 20_000, cleanup }
  })
}

/** Sends initialize (integer id: supergateway answers other ids with null) and waits for its answer. */
const initialize = (channel: McpChannel): Promise<JsonRpcMessage> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no answer to initialize within 10 s")), 10_000)
    channel.onMessage((m) => {
      if (!("id" in m) || m.id !== 1) return
      clearTimeout(timer)
      resolve(m)
    })
    const params = { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "dtma-test", version: "1" } }
    run(channel.send({ jsonrpc: "2.0", id: 1, method: "initialize", params })).catch(reject)
  })

describe("SdkMcpConnector against real servers", () => {
  afterAll(() => removeAll(RUN))

  for (const transport of TRANSPORTS) {
    it(`connects to a freshly started ${transport} server and initializes it, waiting for it to listen`, async () => {
      const started = Date.now()
      const target = await startMcpServer(RUN, transport, `cold-${transport}`)
      const afterStart = Date.now()
      const channel = await run(connector.connect(target, { timeoutMs: 20_000 }))
      const connected = Date.now()
      expect(await initialize(channel)).toMatchObject({ result: { serverInfo: expect.any(Object) } })
      const initialized = Date.now()
      await run(channel.close())
      const warmBegin = Date.now()
      const warm = await run(connector.connect(target, { timeoutMs: 20_000 }))
      await initialize(warm)
      const warmDone = Date.now()
      await run(warm.close())
      console.log(
        `[timing] ${transport}: create+start ${afterStart - started} ms, cold connect ${connected - afterStart} ms, ` +
          `initialize ${initialized - connected} ms; ` +
          `warm connect+initialize ${warmDone - warmBegin} ms`,
      )
    })
  }

  it("ends only its attachment on close: the stdio server keeps running and a new attach talks to it", async () => {
    const target = await startMcpServer(RUN, "stdio", "reattach")
    const before = await docker.getContainer(target.containerId).inspect()
    const first = await run(connector.connect(target, { timeoutMs: 10_000 }))
    await initialize(first)
    await run(first.close())
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const after = await docker.getContainer(target.containerId).inspect()
    expect(after.State).toMatchObject({ Status: "running", StartedAt: before.State.StartedAt })
    const second = await run(connector.connect(target, { timeoutMs: 10_000 }))
    expect(await initialize(second)).toMatchObject({ result: { serverInfo: { name: "mcp-servers/everything" } } })
    await run(second.close())
  })

  it("closes a stdio channel once when its container stops", async () => {
    const target = await startMcpServer(RUN, "stdio", "stops")
    const channel = await run(connector.connect(target, { timeoutMs: 10_000 }))
    const reasons: Array<string> = []
    channel.onClose((reason) => reasons.push(reason))
    await docker.getContainer(target.containerId).stop({ t: 5 })
    await expect.poll(() => reasons, { timeout: 10_000 }).toHaveLength(1)
  })

  for (const transport of ["sse", "websocket", "streamable_http"] as const) {
    it(`notices a ${transport} server going away: the channel closes once, at the latest on the next send`, async () => {
      const target = await startMcpServer(RUN, transport, `gone-${transport}`)
      const channel = await run(connector.connect(target, { timeoutMs: 20_000 }))
      const reasons: Array<string> = []
      channel.onClose((reason) => reasons.push(reason))
      await initialize(channel)
      await run(channel.send({ jsonrpc: "2.0", method: "notifications/initialized" }))
      await docker.getContainer(target.containerId).stop({ t: 5 })
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      if (reasons.length === 0) {
        // Streamable HTTP holds no connection open between requests: only a send finds out.
        const sent = await Effect.runPromiseExit(channel.send({ jsonrpc: "2.0", id: 9, method: "ping" }))
        expect(sent._tag).toBe("Failure")
      }
      await expect.poll(() => reasons, { timeout: 10_000 }).toHaveLength(1)
      console.log(`[gone] ${transport}: ${reasons[0]}`)
    })
  }
})
