import { describe, expect, it } from "vitest"
import type { McpTarget } from "@dtma/domain"
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
