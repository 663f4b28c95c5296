import { describe, expect, it, vi } from "vitest"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { McpTarget, MessageContext } from "@dtma/domain"
import { failureOf, InMemoryMcpConnector, mcpConnectorContract, run } from "../../src/index.ts"

const target = (containerId: string): McpTarget => ({ transport: "stdio", containerId, endpoint: null })

mcpConnectorContract("InMemoryMcpConnector", async () => {
  const connector = new InMemoryMcpConnector()
  connector.register("echo")
  return { connector, target: target("echo"), unreachable: target("nothing-here") }
})

describe("InMemoryMcpConnector's faults", () => {
  it("refuses a target made unreachable until it is registered again", async () => {
    const connector = new InMemoryMcpConnector()
    connector.register("a")
    connector.makeUnreachable("a")
    expect(await failureOf(connector.connect(target("a"), { timeoutMs: 100 }))).toMatchObject({ reason: "unreachable" })
    connector.register("a")
    await expect(run(connector.connect(target("a"), { timeoutMs: 100 }))).resolves.toBeDefined()
  })

  it("connects to a slow server within the time allowed and times out when allowed less", async () => {
    const connector = new InMemoryMcpConnector()
    connector.register("slow")
    connector.makeSlow("slow", 50)
    await expect(run(connector.connect(target("slow"), { timeoutMs: 500 }))).resolves.toBeDefined()
    const started = Date.now()
    expect(await failureOf(connector.connect(target("slow"), { timeoutMs: 20 }))).toMatchObject({ reason: "timeout" })
    expect(Date.now() - started).toBeLessThan(200)
  })

  it("closes every open channel once, with the reason, when the server crashes", async () => {
    const connector = new InMemoryMcpConnector()
    connector.register("c")
    const channel = await run(connector.connect(target("c"), { timeoutMs: 100 }))
    const reasons: Array<string> = []
    channel.onClose((r) => reasons.push(r))
    expect(connector.openChannels("c")).toBe(1)
    await connector.crash("c", "exit code 1")
    await run(channel.close())
    expect(reasons).toEqual(["exit code 1"])
    expect(connector.openChannels("c")).toBe(0)
    expect(await failureOf(channel.send({ jsonrpc: "2.0", method: "notifications/initialized" }))).toMatchObject({ reason: "closed" })
  })
})

describe("InMemoryMcpConnector's streams", () => {
  const logging = () => {
    const server = new McpServer({ name: "logger", version: "1.0.0" }, { capabilities: { logging: {} } })
    server.registerTool("log", { description: "Logs about the call and about nothing." }, async (extra) => {
      await extra.sendNotification({ method: "notifications/message", params: { level: "info", data: "about the call" } })
      await server.sendLoggingMessage({ level: "info", data: "about nothing" })
      return { content: [] }
    })
    return server
  }

  it.each([
    ["streamable_http", true],
    ["stdio", false],
  ] as const)("over %s separate requests: %s, telling for each notification the request it was sent about where they do", async (transport, separates) => {
    const connector = new InMemoryMcpConnector()
    connector.register("logger", logging)
    const channel = await run(connector.connect({ transport, containerId: "logger", endpoint: null }, { timeoutMs: 100 }))
    const seen: Array<readonly [unknown, MessageContext]> = []
    channel.onMessage((m, context) => void ("method" in m && seen.push([m.params?.["data"], context])))
    const params = { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } }
    await run(channel.send({ jsonrpc: "2.0", id: 1, method: "initialize", params }))
    await run(channel.send({ jsonrpc: "2.0", method: "notifications/initialized" }))
    await run(channel.send({ jsonrpc: "2.0", id: "call", method: "tools/call", params: { name: "log", arguments: {} } }))
    await vi.waitFor(() => expect(seen).toHaveLength(2))
    expect(channel.separatesRequests).toBe(separates)
    expect(seen).toEqual([
      ["about the call", separates ? { relatedRequestId: "call" } : {}],
      ["about nothing", {}],
    ])
    await run(channel.close())
  })
})
