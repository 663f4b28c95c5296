import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { BROKEN_MCP_IMAGE, deployBody, MCP_IMAGE, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

// JSON bodies are read freely in assertions.
// oxlint-disable-next-line typescript/no-explicit-any
const jsonOf = (res: Response): Promise<any> => res.json()

const mcpTool = (overrides: Record<string, unknown> = {}) =>
  deployBody({
    dockerImageUrl: MCP_IMAGE,
    instanceNameOnToolbox: "mcp-t",
    baseConfigOverrideJson: { mcpTransport: "streamable_http", mcpEndpoint: "/mcp", mcpPort: 3000 },
    ...overrides,
  })

const healthOf = async (name: string): Promise<string> => (await jsonOf(await app.api(`/mcp-servers/${name}`))).data.healthStatus

describe("POST /tools with MCP keys", () => {
  it("deploys through MCP supervision and answers in the legacy shape once the server is ready", async () => {
    const res = await app.json("POST", "/tools", mcpTool())
    expect(res.status).toBe(201)
    expect(await jsonOf(res)).toEqual({
      success: true,
      message: "Tool 'mcp-t' deployed successfully.",
      data: {
        container_id: expect.any(String),
        instance_name_on_toolbox: "mcp-t",
        account_tool_instance_id: "ati-1",
        image: MCP_IMAGE,
        ports: { "3000/tcp": [{ HostIp: "127.0.0.1", HostPort: expect.stringMatching(/^\d+$/) }] },
        state: { Status: "running", Running: true },
      },
    })
    expect(await healthOf("mcp-t")).toBe("healthy")
    expect(app.connector.connects.at(-1)?.endpoint).toEqual({ hostPort: expect.any(Number), path: "/mcp" })
  })

  it("names what a stdio server ignores in data.ignoredKeys: ports, its path and port, and the tool secrets' agentId", async () => {
    const override = {
      mcpTransport: "stdio",
      mcpEndpoint: "/mcp",
      mcpPort: 3000,
      HostConfig: { PortBindings: { "8080/tcp": [{ HostPort: "" }] } },
      portMappings: [{ containerPort: 9090 }],
    }
    const res = await app.json(
      "POST",
      "/tools",
      deployBody({ dockerImageUrl: MCP_IMAGE, instanceNameOnToolbox: "mcp-s", agentId: "agent-1", baseConfigOverrideJson: override }),
    )
    expect(res.status).toBe(201)
    expect((await jsonOf(res)).data.ignoredKeys).toEqual([
      "agentId",
      "baseConfigOverrideJson.mcpEndpoint",
      "baseConfigOverrideJson.mcpPort",
      "baseConfigOverrideJson.HostConfig.PortBindings",
      "baseConfigOverrideJson.portMappings",
    ])
  })

  it("answers a server that never becomes ready in the legacy other-failure shape, leaving no container", async () => {
    const res = await app.json("POST", "/tools", mcpTool({ dockerImageUrl: BROKEN_MCP_IMAGE }))
    expect(res.status).toBe(502)
    expect(await jsonOf(res)).toEqual({
      success: false,
      message: "Failed to deploy tool 'mcp-t'.",
      error: expect.stringContaining("Last stderr lines: Error: unknown transport 'bogus'"),
      code: "mcp_server_not_ready",
    })
    expect(app.runtime.containerCount()).toBe(0)
  })
})

describe("the tool routes on an MCP server", () => {
  beforeEach(async () => {
    const res = await app.json("POST", "/tools", mcpTool())
    if (res.status !== 201) throw new Error(`deploy answered ${res.status}`)
  })

  it("stops it as an operator stop, not a crash", async () => {
    const res = await app.api("/tools/mcp-t/stop", { method: "POST" })
    expect(res.status).toBe(200)
    expect(await jsonOf(res)).toEqual({
      success: true,
      message: "Tool instance 'mcp-t' stopped successfully.",
      data: { state: { Status: "exited", Running: false } },
    })
    expect(await healthOf("mcp-t")).toBe("stopped")
  })

  it("starts it again through MCP supervision, and says so when it is already running", async () => {
    const running = await app.api("/tools/mcp-t/start", { method: "POST" })
    expect(await jsonOf(running)).toEqual({
      success: true,
      message: "Tool instance 'mcp-t' is already running.",
      data: { state: { Status: "running", Running: true } },
    })
    await app.api("/tools/mcp-t/stop", { method: "POST" })
    const connects = app.connector.connects.length
    const started = await app.api("/tools/mcp-t/start", { method: "POST" })
    expect(await jsonOf(started)).toEqual({
      success: true,
      message: "Tool instance 'mcp-t' started successfully.",
      data: { state: { Status: "running", Running: true } },
    })
    expect(app.connector.connects.length).toBe(connects + 1)
    expect(await healthOf("mcp-t")).toBe("healthy")
  })

  it("removes it and forgets it", async () => {
    const res = await app.api("/tools/mcp-t", { method: "DELETE" })
    expect(await jsonOf(res)).toEqual({ success: true, message: "Tool instance 'mcp-t' removed successfully." })
    expect(app.mcpServers.isMcpServer("mcp-t")).toBe(false)
    expect(app.runtime.containerCount()).toBe(0)
    expect((await app.api("/mcp-servers/mcp-t")).status).toBe(404)
  })
})
