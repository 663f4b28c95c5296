import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { BROKEN_MCP_IMAGE, MCP_IMAGE, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

// JSON bodies are read freely in assertions.
// oxlint-disable-next-line typescript/no-explicit-any
const jsonOf = (res: Response): Promise<any> => res.json()

const server = (name: string, overrides: Record<string, unknown> = {}) => ({
  accountToolInstanceId: `ati-${name}`,
  dockerImageUrl: MCP_IMAGE,
  instanceNameOnToolbox: name,
  mcpEndpointPath: "/mcp",
  mcpTransportType: "streamable_http",
  portBindings: { "3000": "31000" },
  environmentVariables: { API_KEY: "group-secret-value" },
  resourceLimits: { memory: "512m" },
  ...overrides,
})

// The body one backend function of the last legacy agent sent.
const groupBody = (servers: ReadonlyArray<unknown>) => ({ groupId: "agent-7-mcp", servers, options: { sharedNetworking: true, maxConcurrentDeployments: 2 } })

describe("POST /mcp/groups (legacy alias)", () => {
  it("deploys every server of the group as POST /mcp-servers would, and answers them", async () => {
    const res = await app.json("POST", "/mcp/groups", groupBody([server("g-a"), server("g-b", { portBindings: { "3000": "31001" } })]))
    expect(res.status).toBe(201)
    const body = await jsonOf(res)
    expect(body).toMatchObject({ success: true, message: "MCP server group 'agent-7-mcp' deployed.", data: { groupId: "agent-7-mcp" } })
    expect(body.data.servers.map((s: { instanceName: string; healthStatus: string }) => [s.instanceName, s.healthStatus])).toEqual([
      ["g-a", "healthy"],
      ["g-b", "healthy"],
    ])
    expect(app.connector.connects.map((t) => t.endpoint)).toEqual([
      { hostPort: 31000, path: "/mcp" },
      { hostPort: 31001, path: "/mcp" },
    ])
    expect(JSON.stringify(body)).not.toContain("group-secret-value")
  })

  it("deploys none when one server fails, removing those already up", async () => {
    const res = await app.json(
      "POST",
      "/mcp/groups",
      groupBody([server("g-a"), server("g-b", { dockerImageUrl: BROKEN_MCP_IMAGE, portBindings: { "3000": "31001" } })]),
    )
    expect(res.status).toBe(502)
    expect(await jsonOf(res)).toMatchObject({ success: false, message: "Failed to deploy MCP server group 'agent-7-mcp'.", code: "mcp_server_not_ready" })
    expect(app.runtime.containerCount()).toBe(0)
    expect(app.mcpServers.list()).toEqual([])
  })

  it("checks every server before deploying any", async () => {
    const res = await app.json("POST", "/mcp/groups", groupBody([server("g-a"), server("g-b", { mcpTransportType: "carrier-pigeon" })]))
    expect(res.status).toBe(400)
    expect(await jsonOf(res)).toMatchObject({ success: false, code: "invalid_request" })
    expect(app.runtime.containerCount()).toBe(0)
    expect((await app.json("POST", "/mcp/groups", { servers: [] })).status).toBe(400)
  })

  it("answers a group id already deployed with 409", async () => {
    expect((await app.json("POST", "/mcp/groups", groupBody([server("g-a")]))).status).toBe(201)
    const again = await app.json("POST", "/mcp/groups", groupBody([server("g-b", { portBindings: { "3000": "31001" } })]))
    expect(again.status).toBe(409)
    expect(await jsonOf(again)).toEqual({ success: false, error: "MCP server group 'agent-7-mcp' already exists." })
  })
})

describe("DELETE /mcp/groups/:groupId (legacy alias)", () => {
  it("removes the group's servers, and answers an unknown group with 404", async () => {
    await app.json("POST", "/mcp/groups", groupBody([server("g-a"), server("g-b", { portBindings: { "3000": "31001" } })]))
    await app.api("/mcp-servers/g-b", { method: "DELETE" })
    const res = await app.api("/mcp/groups/agent-7-mcp", { method: "DELETE" })
    expect(res.status).toBe(200)
    expect(await jsonOf(res)).toEqual({ success: true, message: "MCP server group 'agent-7-mcp' removed.", data: { groupId: "agent-7-mcp", removed: ["g-a"] } })
    expect(app.runtime.containerCount()).toBe(0)
    const again = await app.api("/mcp/groups/agent-7-mcp", { method: "DELETE" })
    expect(again.status).toBe(404)
    expect(await jsonOf(again)).toMatchObject({ success: false, code: "not_found" })
  })
})
