import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { BROKEN_MCP_IMAGE, deployBody, mcpBody, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

// JSON bodies are read freely in assertions.
// oxlint-disable-next-line typescript/no-explicit-any
const jsonOf = (res: Response): Promise<any> => res.json()

describe("POST /mcp-servers", () => {
  it("answers 201 once the server is ready, with its endpoint on the address the caller used", async () => {
    // The test app listens on a random port, not the configured 30000: the URL follows the Host header.
    const res = await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "echo server" }))
    expect(res.status).toBe(201)
    expect(await jsonOf(res)).toEqual({
      success: true,
      message: "MCP server 'echo server' deployed.",
      data: {
        instanceName: "echo server",
        accountToolInstanceId: "ati-mcp-a",
        containerId: expect.any(String),
        transportType: "stdio",
        endpointUrl: `${app.base}/mcp-servers/echo%20server/mcp`,
        healthStatus: "healthy",
        capabilities: { tools: 1, resources: 0, prompts: 0 },
        credentials: null,
      },
    })
  })

  it("reaches a network server through its port published on loopback, at the transport's default path", async () => {
    expect((await app.json("POST", "/mcp-servers", mcpBody({ mcpTransportType: "streamable_http" }))).status).toBe(201)
    expect(app.connector.connects.at(-1)).toEqual({
      transport: "streamable_http",
      containerId: expect.any(String),
      endpoint: { hostPort: expect.any(Number), path: "/mcp" },
    })
  })

  it("answers a missing transport with a 400 naming every required field", async () => {
    const res = await app.json("POST", "/mcp-servers", mcpBody({ mcpTransportType: undefined }))
    expect(res.status).toBe(400)
    expect(await jsonOf(res)).toEqual({
      success: false,
      error: "Missing required fields: dockerImageUrl, instanceNameOnToolbox, accountToolInstanceId, mcpTransportType",
    })
  })

  it("answers a transport it does not know with a 400 naming the field", async () => {
    const res = await app.json("POST", "/mcp-servers", mcpBody({ mcpTransportType: "carrier-pigeon" }))
    expect(res.status).toBe(400)
    expect(await jsonOf(res)).toMatchObject({ success: false, error: expect.stringMatching(/^Invalid mcpTransportType/), code: "invalid_request" })
  })

  it("refuses a privilege-widening key with a 400 naming it, and creates nothing", async () => {
    const res = await app.json("POST", "/mcp-servers", mcpBody({ baseConfigOverrideJson: { HostConfig: { Privileged: true, Binds: ["/:/host"] } } }))
    expect(res.status).toBe(400)
    expect((await jsonOf(res)).error).toContain("baseConfigOverrideJson.HostConfig.Privileged")
    expect(app.runtime.containerCount()).toBe(0)
  })

  it("answers OAuth connections without an agent with a 400 rather than deploying a server without its credentials", async () => {
    const res = await app.json("POST", "/mcp-servers", mcpBody({ oauthConnectionIds: ["github-1"] }))
    expect(res.status).toBe(400)
    expect(await jsonOf(res)).toEqual({ success: false, error: "Invalid agentId: is required when OAuth connections are given", code: "invalid_request" })
    expect(app.runtime.containerCount()).toBe(0)
  })

  it("answers a name already managed, by an MCP server or a standard tool, with 409", async () => {
    expect((await app.json("POST", "/mcp-servers", mcpBody())).status).toBe(201)
    const again = await app.json("POST", "/mcp-servers", mcpBody())
    expect(again.status).toBe(409)
    expect(await jsonOf(again)).toEqual({ success: false, error: "Instance with name 'mcp-a' already exists." })
    expect((await app.json("POST", "/tools", deployBody({ instanceNameOnToolbox: "tool-a" }))).status).toBe(201)
    expect((await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "tool-a" }))).status).toBe(409)
  })

  it("rolls back a server that never becomes ready: 502 with its stderr tail, and no container left", async () => {
    const res = await app.json("POST", "/mcp-servers", mcpBody({ dockerImageUrl: BROKEN_MCP_IMAGE }))
    expect(res.status).toBe(502)
    const body = await jsonOf(res)
    expect(body).toMatchObject({ success: false, message: "Failed to deploy MCP server 'mcp-a'.", code: "mcp_server_not_ready" })
    expect(body.error).toContain("did not become ready and was rolled back")
    expect(body.error).toContain("Error: unknown transport 'bogus' | usage: server [stdio|sse|streamableHttp]")
    expect(app.runtime.containerCount()).toBe(0)
    expect((await jsonOf(await app.api("/mcp-servers"))).data.servers).toEqual([])
    expect((await app.json("POST", "/mcp-servers", mcpBody())).status).toBe(201)
  })

  it("needs the bearer token", async () => {
    const res = await fetch(`${app.base}/mcp-servers`, { method: "POST", body: JSON.stringify(mcpBody()), headers: { "content-type": "application/json" } })
    expect(res.status).toBe(401)
    for (const path of ["/mcp-servers", "/mcp-servers/discovery", "/mcp-servers/mcp-a", "/mcp-servers/mcp-a/logs"])
      expect((await fetch(`${app.base}${path}`)).status).toBe(401)
  })
})
