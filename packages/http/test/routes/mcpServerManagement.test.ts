import { request } from "node:http"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { echoMcpServer } from "@dtma/testing"
import { deployBody, mcpBody, McpServingRuntime, startTestApp, TOKEN, type TestApp } from "../support/support.ts"

let app: TestApp
let containerId: string
beforeEach(async () => {
  app = await startTestApp()
  const res = await app.json("POST", "/mcp-servers", mcpBody())
  containerId = ((await res.json()) as { data: { containerId: string } }).data.containerId
})
afterEach(() => app.close())

// JSON bodies are read freely in assertions.
// oxlint-disable-next-line typescript/no-explicit-any
const jsonOf = (res: Response): Promise<any> => res.json()
const post = (path: string) => app.api(path, { method: "POST" })

describe("GET /mcp-servers and /mcp-servers/:name", () => {
  it("lists every MCP server as a summary, and no standard tool", async () => {
    await app.json("POST", "/tools", deployBody())
    const res = await app.api("/mcp-servers")
    expect(res.status).toBe(200)
    expect(await jsonOf(res)).toEqual({
      success: true,
      data: {
        servers: [
          {
            instanceName: "mcp-a",
            accountToolInstanceId: "ati-mcp-a",
            containerId,
            transportType: "stdio",
            endpointUrl: `${app.base}/mcp-servers/mcp-a/mcp`,
            healthStatus: "healthy",
            capabilities: { tools: 1, resources: 0, prompts: 0 },
            image: "dtma/mcp-echo:1",
            containerState: "running",
            // The deploy's initialize and listing were a health check.
            lastHealthCheck: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
            restartCount: 0,
            isolation: "shared",
            instances: 0,
          },
        ],
      },
    })
  })

  it("shows one server in full: transport, container, health history, restarts, last error, capabilities, OAuth", async () => {
    const body = await jsonOf(await app.api("/mcp-servers/mcp-a"))
    expect(body.data).toEqual({
      instanceName: "mcp-a",
      accountToolInstanceId: "ati-mcp-a",
      endpointUrl: `${app.base}/mcp-servers/mcp-a/mcp`,
      transport: { type: "stdio", endpointPath: null, port: null },
      container: { id: containerId, image: "dtma/mcp-echo:1", state: "running" },
      healthStatus: "healthy",
      lastHealthCheck: body.data.healthHistory[0].at,
      pingLatencyMs: null,
      healthHistory: [{ at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), status: "healthy", detail: null }],
      restartCount: 0,
      lastError: null,
      capabilities: {
        protocolVersion: "2025-11-25",
        serverInfo: { name: "dtma-echo", version: "1.0.0" },
        counts: { tools: 1, resources: 0, prompts: 0, resourceTemplates: 0 },
        hash: expect.stringMatching(/^[0-9a-f]{16}$/),
        fetchedAt: expect.any(String),
      },
      oauth: [],
      credentials: null,
      isolation: "shared",
      instances: [],
    })
  })

  it("answers an unknown name, or a standard tool's, with 404", async () => {
    await app.json("POST", "/tools", deployBody())
    for (const name of ["ghost", "tool-a"]) {
      const res = await app.api(`/mcp-servers/${name}`)
      expect(res.status).toBe(404)
      expect(await jsonOf(res)).toEqual({ success: false, error: `MCP server '${name}' not found or not managed by this DTMA.`, code: "not_found" })
    }
    for (const path of ["/mcp-servers/ghost/start", "/mcp-servers/ghost/stop", "/mcp-servers/ghost/restart"]) expect((await post(path)).status).toBe(404)
    expect((await app.api("/mcp-servers/ghost/logs")).status).toBe(404)
    expect((await app.api("/mcp-servers/tool-a", { method: "DELETE" })).status).toBe(404)
    expect(app.runtime.containerCount()).toBe(2)
  })

  it("builds URLs from the configured address when the Host header is not a plain host", async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${app.base}/mcp-servers`, { headers: { authorization: `Bearer ${TOKEN}`, host: "evil.example/path?" } }, (res) => {
        let text = ""
        res.on("data", (c: Buffer) => (text += c.toString()))
        res.on("end", () => resolve(text))
      })
      req.on("error", reject)
      req.end()
    })
    expect(JSON.parse(body).data.servers[0].endpointUrl).toBe("http://127.0.0.1:30000/mcp-servers/mcp-a/mcp")
  })
})

describe("stopping, starting, restarting and removing an MCP server", () => {
  it("stops it: health stopped, container exited, no crash restart", async () => {
    const res = await post("/mcp-servers/mcp-a/stop")
    expect(res.status).toBe(200)
    expect(await jsonOf(res)).toMatchObject({
      success: true,
      message: "MCP server 'mcp-a' stopped.",
      data: { healthStatus: "stopped", container: { state: "exited" } },
    })
    expect(app.connector.openChannels(containerId)).toBe(0)
  })

  it("starts a stopped server and answers once it is ready again", async () => {
    await post("/mcp-servers/mcp-a/stop")
    const res = await post("/mcp-servers/mcp-a/start")
    expect(res.status).toBe(200)
    expect(await jsonOf(res)).toMatchObject({ message: "MCP server 'mcp-a' started.", data: { healthStatus: "healthy", container: { state: "running" } } })
    expect(app.connector.openChannels(containerId)).toBe(1)
  })

  it("leaves a running, healthy server alone when asked to start it, so its sessions survive", async () => {
    const connects = app.connector.connects.length
    const res = await post("/mcp-servers/mcp-a/start")
    expect(await jsonOf(res)).toMatchObject({ message: "MCP server 'mcp-a' is already running.", data: { healthStatus: "healthy" } })
    expect(app.connector.connects.length).toBe(connects)
  })

  it("restarts it with a fresh connection and counts the restart", async () => {
    const connects = app.connector.connects.length
    const res = await post("/mcp-servers/mcp-a/restart")
    expect(res.status).toBe(200)
    expect(await jsonOf(res)).toMatchObject({
      message: "MCP server 'mcp-a' restarted.",
      data: { healthStatus: "healthy", restartCount: 1, container: { state: "running" } },
    })
    expect(app.connector.connects.length).toBe(connects + 1)
    expect(app.connector.openChannels(containerId)).toBe(1)
  })

  it("removes it and its container; a second removal is a 404", async () => {
    const res = await app.api("/mcp-servers/mcp-a", { method: "DELETE" })
    expect(res.status).toBe(200)
    expect(await jsonOf(res)).toEqual({ success: true, message: "MCP server 'mcp-a' removed." })
    expect(app.runtime.containerCount()).toBe(0)
    expect((await app.api("/mcp-servers/mcp-a")).status).toBe(404)
    expect((await app.api("/mcp-servers/mcp-a", { method: "DELETE" })).status).toBe(404)
  })

  it("answers a runtime that went away with 503 in the other-failure shape", async () => {
    app.runtime.daemonDown = true
    const res = await post("/mcp-servers/mcp-a/stop")
    expect(res.status).toBe(503)
    expect(await jsonOf(res)).toMatchObject({ success: false, message: "Failed to stop MCP server 'mcp-a'.", error: expect.stringContaining("unreachable") })
  })
})

describe("GET /mcp-servers/:name/logs", () => {
  beforeEach(() => {
    app.containerLogs.append(containerId, "stderr", "one\ntwo\nthree")
    app.containerLogs.append(containerId, "stdout", '{"jsonrpc":"2.0"}')
  })

  it("answers the server's stderr, oldest line first (stdout is the protocol for stdio)", async () => {
    const res = await app.api("/mcp-servers/mcp-a/logs")
    expect(res.status).toBe(200)
    expect(await jsonOf(res)).toEqual({
      success: true,
      data: { instanceName: "mcp-a", lines: ["one", "two", "three"].map((text) => ({ stream: "stderr", text })) },
    })
  })

  it("answers only the last lines asked for", async () => {
    expect((await jsonOf(await app.api("/mcp-servers/mcp-a/logs?tail=1"))).data.lines).toEqual([{ stream: "stderr", text: "three" }])
  })

  it("answers a tail that is not a whole number from 1 to 5000 with a 400 naming it", async () => {
    for (const tail of ["0", "5001", "abc", "1.5", "-3"]) {
      const res = await app.api(`/mcp-servers/mcp-a/logs?tail=${tail}`)
      expect(res.status).toBe(400)
      expect(await jsonOf(res)).toMatchObject({ success: false, error: expect.stringMatching(/^Invalid tail: /), code: "invalid_request" })
    }
    expect((await app.api("/mcp-servers/mcp-a/logs?tail=5000")).status).toBe(200)
  })
})

describe("POST /mcp-servers/:name/redeploy", () => {
  it("replaces the container with a new one, ready, and removes the old one", async () => {
    const runtime = app.runtime
    if (!(runtime instanceof McpServingRuntime)) throw new Error("the test app serves MCP from its runtime")
    runtime.images.add("dtma/mcp-echo:2")
    runtime.servers.set("dtma/mcp-echo:2", echoMcpServer)
    const { instanceNameOnToolbox: _name, ...body } = mcpBody({ dockerImageUrl: "dtma/mcp-echo:2" }) as Record<string, unknown>
    const res = await app.json("POST", "/mcp-servers/mcp-a/redeploy", body)
    expect(res.status).toBe(200)
    const data = (await jsonOf(res)).data
    expect(data).toMatchObject({ instanceName: "mcp-a", container: { image: "dtma/mcp-echo:2", state: "running" }, healthStatus: "healthy" })
    expect(data.container.id).not.toBe(containerId)
    expect((await jsonOf(await app.api("/tools/status"))).tool_instances.map((t: { container_id: string }) => t.container_id)).toEqual([data.container.id])
  })

  it("refuses to redeploy a server on the fixed host port it holds with a 409 that says why and what to do, leaving it running", async () => {
    // A network server: a stdio one has no ports to publish.
    const fixed = { mcpTransportType: "streamable_http", baseConfigOverrideJson: { HostConfig: { PortBindings: { "9090/tcp": [{ HostPort: "19090" }] } } } }
    expect((await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "pinned", ...fixed }))).status).toBe(201)
    const { instanceNameOnToolbox: _name, ...body } = mcpBody(fixed) as Record<string, unknown>
    const res = await app.json("POST", "/mcp-servers/pinned/redeploy", body)
    expect(res.status).toBe(409)
    expect((await jsonOf(res)).error).toBe(
      "Port conflict: Requested HostPort 19090 is held by the container being replaced, and a redeploy starts the new one beside it. " +
        "Leave the host port unset to let the runtime choose one, or remove the instance and deploy it again.",
    )
    expect((await jsonOf(await app.api("/mcp-servers/pinned"))).data).toMatchObject({ healthStatus: "healthy", container: { state: "running" } })
  })

  it("refuses a body naming another server, and an unknown server", async () => {
    expect((await app.json("POST", "/mcp-servers/mcp-a/redeploy", mcpBody({ instanceNameOnToolbox: "other" }))).status).toBe(400)
    const { instanceNameOnToolbox: _name, ...body } = mcpBody() as Record<string, unknown>
    const unknown = await app.json("POST", "/mcp-servers/nope/redeploy", body)
    expect(unknown.status).toBe(404)
  })
})
