import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { deployBody, statusJson, IMAGE, MCP_IMAGE, NOW, OTHER_TOKEN, OUTBOUND_TOKEN, startTestApp, TOKEN, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

const withPort = (name: string, hostPort: string, extra: Record<string, unknown> = {}) =>
  deployBody({
    instanceNameOnToolbox: name,
    accountToolInstanceId: `ati-${name}`,
    baseConfigOverrideJson: {
      Env: ["API_KEY=super-secret-env-value"],
      HostConfig: { PortBindings: { "8080/tcp": [{ HostIp: "0.0.0.0", HostPort: hostPort }] } },
      ...extra,
    },
  })

describe("GET /health", () => {
  it("answers 200 with the text OK and no token", async () => {
    const res = await fetch(`${app.base}/health`)
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/)
    expect(await res.text()).toBe("OK")
  })
})

describe("GET /status", () => {
  it("answers without a token, in the union shape, ports in both casings", async () => {
    await app.json("POST", "/tools", withPort("tool-a", "30001"))
    const res = await fetch(`${app.base}/status`)
    expect(res.status).toBe(200)
    const body = await statusJson(res)
    const entry = {
      account_tool_instance_id: "ati-tool-a",
      instance_name_on_toolbox: "tool-a",
      container_id: expect.any(String),
      status: "running",
      image: IMAGE,
      created: Math.floor(NOW.getTime() / 1000),
      ports: [{ IP: "0.0.0.0", PrivatePort: 8080, PublicPort: 30001, Type: "tcp", ip: "0.0.0.0", private_port: 8080, public_port: 30001, type: "tcp" }],
      id: expect.any(String),
      names: ["tool-a"],
      state: "running",
      kind: "standard_tool",
    }
    expect(body).toEqual({
      status: "healthy",
      timestamp: NOW.toISOString(),
      version: "0.1.0",
      dtma_version: "0.1.0",
      service: "DTMA",
      environment: { hasAuthToken: true, hasApiKey: true, hasApiBaseUrl: true, port: "30000" },
      tool_instances: [entry],
      standard_tools: [entry],
      mcp_servers: [],
      mcp_summary: {
        total: 0,
        byHealth: { starting: 0, healthy: 0, degraded: 0, unhealthy: 0, stopping: 0, stopped: 0 },
        byTransport: { stdio: 0, sse: 0, websocket: 0, streamable_http: 0 },
        oauth: { valid: 0, expiring: 0, failed: 0 },
      },
      system_metrics: {
        cpu_load_percent: 3.2,
        memory: { total_bytes: 8000, active_bytes: 3000, free_bytes: 5000, used_bytes: 3000 },
        disk: { mount: "/", total_bytes: 100000, used_bytes: 40000, free_bytes: 60000 },
      },
    })
    expect(body.tool_instances[0]?.id).toBe(body.tool_instances[0]?.container_id)
  })

  it("lists only managed instances, never containers the DTMA did not create", async () => {
    app.runtime.unmanagedNames.add("dtma")
    app.runtime.unmanagedNames.add("someone-elses")
    await app.json("POST", "/tools", withPort("tool-a", "30001"))
    const body = await statusJson(await fetch(`${app.base}/status`))
    expect(body.tool_instances.map((t) => t.instance_name_on_toolbox)).toEqual(["tool-a"])
  })

  it("splits standard tools from MCP servers, and gives each MCP server its health and transport", async () => {
    await app.json("POST", "/tools", withPort("tool-a", "30001"))
    const mcp = await app.json("POST", "/tools", {
      ...withPort("mcp-b", "30002", { mcpTransport: "sse", mcpEndpoint: "/sse", mcpPort: 8080 }),
      dockerImageUrl: MCP_IMAGE,
    })
    expect(mcp.status).toBe(201)
    const body = await statusJson(await fetch(`${app.base}/status`))
    expect(body.tool_instances).toHaveLength(2)
    expect(body.standard_tools.map((t) => t.instance_name_on_toolbox)).toEqual(["tool-a"])
    expect(body.mcp_servers).toEqual([
      expect.objectContaining({
        instance_name_on_toolbox: "mcp-b",
        kind: "mcp_server",
        mcp_transport: "sse",
        mcp_endpoint: "/sse",
        mcp_port: 8080,
        transport_type: "sse",
        health_status: "healthy",
        restart_count: 0,
      }),
    ])
  })

  it("sums MCP servers up by health and transport", async () => {
    for (const [name, mcpTransport] of [
      ["m-1", "stdio"],
      ["m-2", "stdio"],
      ["m-3", "streamable_http"],
    ] as const) {
      expect(
        (
          await app.json("POST", "/tools", {
            ...deployBody({ instanceNameOnToolbox: name, dockerImageUrl: MCP_IMAGE }),
            baseConfigOverrideJson: { mcpTransport },
          })
        ).status,
      ).toBe(201)
    }
    await app.api("/tools/m-2/stop", { method: "POST" })
    const body = (await (await fetch(`${app.base}/status`)).json()) as { mcp_summary: unknown }
    expect(body.mcp_summary).toEqual({
      total: 3,
      byHealth: { starting: 0, healthy: 2, degraded: 0, unhealthy: 0, stopping: 0, stopped: 1 },
      byTransport: { stdio: 2, sse: 0, websocket: 0, streamable_http: 1 },
      oauth: { valid: 0, expiring: 0, failed: 0 },
    })
  })

  it("never contains environment values or tokens", async () => {
    await app.json("POST", "/tools", withPort("tool-a", "30001"))
    const text = await (await fetch(`${app.base}/status`)).text()
    for (const secret of ["super-secret-env-value", TOKEN, OTHER_TOKEN, OUTBOUND_TOKEN, "backend.invalid"]) expect(text).not.toContain(secret)
  })

  it("gives the port of an instance without a published host port only its private side", async () => {
    await app.json("POST", "/tools", deployBody({ baseConfigOverrideJson: { HostConfig: { PortBindings: { "9000/udp": [{ HostPort: "" }] } } } }))
    await app.api("/tools/tool-a/stop", { method: "POST" })
    const body = await statusJson(await fetch(`${app.base}/status`))
    expect(body.tool_instances[0]?.ports).toEqual([{ IP: "0.0.0.0", PrivatePort: 9000, Type: "udp", ip: "0.0.0.0", private_port: 9000, type: "udp" }])
  })

  it("answers 503 in the other-failure shape when the container runtime is down", async () => {
    app.runtime.daemonDown = true
    const res = await fetch(`${app.base}/status`)
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({
      success: false,
      message: "Failed to list tool instances.",
      error: "The container runtime is unreachable: connect ECONNREFUSED /var/run/docker.sock",
    })
  })
})

describe("GET /tools/status", () => {
  it("answers the same body as /status, behind auth", async () => {
    await app.json("POST", "/tools", withPort("tool-a", "30001"))
    const open = await (await fetch(`${app.base}/status`)).json()
    const res = await app.api("/tools/status")
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual(open)
    expect((await fetch(`${app.base}/tools/status`)).status).toBe(401)
  })
})
