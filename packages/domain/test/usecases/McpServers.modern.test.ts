import { afterEach, describe, expect, it } from "vitest"
import { ModernMcpServer } from "@dtma/testing"
import { callEcho, droplet, request } from "./mcpDroplet.ts"

// A server that speaks only MCP 2026-07-28, deployed and supervised as any other.

let d: ReturnType<typeof droplet>
afterEach(() => d.vt.close())

const setUp = async () => {
  const served: Array<ModernMcpServer> = []
  d = droplet({
    servers: {
      "mcp/modern:1": () => {
        const server = new ModernMcpServer()
        served.push(server)
        return server
      },
    },
  })
  return { mcp: (await d.start()).mcp, served }
}

describe("an MCP server that speaks only 2026-07-28", () => {
  it("deploys healthy, with what server/discover and tools/list said", async () => {
    const { mcp } = await setUp()
    const view = await d.vt.run(mcp.deploy(request({ image: "mcp/modern:1" })))
    expect(view).toMatchObject({ healthStatus: "healthy" })
    expect(view.capabilities?.protocolVersion).toBe("2026-07-28")
    expect(view.capabilities?.serverInfo).toMatchObject({ name: "dtma-modern", version: "2.0.0" })
    expect(view.capabilities?.tools.map((t) => t["name"])).toEqual(["echo", "greet", "log"])
    expect(await d.vt.run(callEcho(mcp, "echo-server", "hi"))).toEqual({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "hi" }] } })
  })

  it("checks its health with server/discover, never ping", async () => {
    const { mcp, served } = await setUp()
    await d.vt.run(mcp.deploy(request({ image: "mcp/modern:1" })))
    await d.until(mcp, "echo-server", (v) => v.pingLatencyMs !== null)
    expect(await d.vt.run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "healthy", pingLatencyMs: 0 })
    const methods = served.flatMap((s) => s.received.map((r) => r.method))
    expect(methods.filter((m) => m === "server/discover").length).toBeGreaterThan(1)
    expect(methods).not.toContain("ping")
  })
})
