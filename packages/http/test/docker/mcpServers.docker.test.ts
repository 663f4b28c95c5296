import { execFileSync } from "node:child_process"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { RELAYED_CLIENT_CAPABILITIES } from "@dtma/domain"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { echo, mcpClient } from "../support/mcpClient.ts"

const EVERYTHING = "dtma/mcp-everything:2026.8.31"
const WEBSOCKET = "dtma/mcp-websocket:4.0.0"
const run = `mcp${Date.now().toString(36)}`

// What the two servers list, captured once from them directly by a client declaring what the DTMA's
// upstream session declares (sampling, elicitation, roots: it relays them to its clients), which
// server-everything answers with the three tools that ask a client; each test also asks a server itself.
const EVERYTHING_TOOLS = [
  "echo",
  "get-annotated-message",
  "get-env",
  "get-resource-links",
  "get-resource-reference",
  "get-roots-list",
  "get-structured-content",
  "get-sum",
  "get-tiny-image",
  "gzip-file-as-resource",
  "simulate-research-query",
  "toggle-simulated-logging",
  "toggle-subscriber-updates",
  "trigger-elicitation-request",
  "trigger-long-running-operation",
  "trigger-sampling-request",
]
const MEMORY_TOOLS = [
  "add_observations",
  "create_entities",
  "create_relations",
  "delete_entities",
  "delete_observations",
  "delete_relations",
  "open_nodes",
  "read_graph",
  "search_nodes",
]

const containersOfRun = (): ReadonlyArray<string> =>
  execFileSync("docker", ["ps", "-a", "--filter", "label=dtma.managed", "--format", '{{.ID}} {{.Label "dtma.name"}}'], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(run))
    .map((line) => line.slice(0, line.indexOf(" ")))

/** The tool names a server lists to an SDK client of its own declaring what the DTMA's upstream session declares (every page). */
const listedDirectly = async (transport: Transport): Promise<ReadonlyArray<string>> => {
  const client = new Client({ name: "dtma-docker-test", version: "1" }, { capabilities: RELAYED_CLIENT_CAPABILITIES })
  await client.connect(transport, { timeout: 30_000 })
  try {
    const names: Array<string> = []
    let cursor: string | undefined
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor })
      names.push(...page.tools.map((t) => t.name))
      cursor = page.nextCursor
    } while (cursor !== undefined)
    return names.sort()
  } finally {
    await client.close()
  }
}

let dtma: DtmaProcess
beforeAll(async () => {
  dtma = await startDtma()
})
afterAll(async () => {
  for (const id of containersOfRun()) execFileSync("docker", ["rm", "-f", id])
  await dtma.kill("SIGTERM")
})

const deploy = (name: string, body: Record<string, unknown>) =>
  dtma.call("POST", "/mcp-servers", {
    dockerImageUrl: EVERYTHING,
    instanceNameOnToolbox: `${run}-${name}`,
    accountToolInstanceId: `ati-${run}-${name}`,
    ...body,
  })

// oxlint-disable-next-line typescript/no-explicit-any
const discovered = async (name: string): Promise<any> =>
  (await dtma.call("GET", "/mcp-servers/discovery")).body.data.servers.find((s: { instanceName: string }) => s.instanceName === `${run}-${name}`)

const toolNames = (entry: { capabilities: { tools: ReadonlyArray<{ name: string }> } }) => entry.capabilities.tools.map((t) => t.name).sort()

/** The loopback port the engine published for a server's container port. */
const publishedPort = async (name: string, containerPort: number): Promise<number> => {
  const entry = (await dtma.call("GET", "/tools/status")).body.mcp_servers.find(
    (s: { instance_name_on_toolbox: string }) => s.instance_name_on_toolbox === `${run}-${name}`,
  )
  return entry.ports.find((p: { private_port: number }) => p.private_port === containerPort).public_port
}

describe("MCP servers on a real engine", () => {
  const transports = [
    ["stdio", { mcpTransportType: "stdio" }],
    ["sse", { mcpTransportType: "sse", mcpPort: 3001, baseConfigOverrideJson: { Cmd: ["sse"], Env: ["PORT=3001"] } }],
    ["streamable_http", { mcpTransportType: "streamable_http", mcpPort: 3001, baseConfigOverrideJson: { Cmd: ["streamableHttp"], Env: ["PORT=3001"] } }],
  ] as const
  for (const [transport, body] of transports) {
    it(`deploys server-everything over ${transport}: 201, healthy, every tool discovered`, async () => {
      const res = await deploy(transport, body)
      expect(res).toMatchObject({ status: 201 })
      expect(res.body.data).toMatchObject({ transportType: transport, healthStatus: "healthy", capabilities: { tools: EVERYTHING_TOOLS.length } })
      expect(toolNames(await discovered(transport))).toEqual(EVERYTHING_TOOLS)
    })
  }

  it("discovers exactly what a stdio server lists to a client of its own (docker run -i)", async () => {
    const transport = new StdioClientTransport({
      command: "docker",
      args: ["run", "-i", "--init", "--rm", "--label", `dtma.test=${run}`, EVERYTHING],
      stderr: "ignore",
    })
    expect(toolNames(await discovered("stdio"))).toEqual(await listedDirectly(transport))
  })

  it("discovers exactly what a streamable_http server lists to a client of its own", async () => {
    const port = await publishedPort("streamable_http", 3001)
    const direct = await listedDirectly(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)))
    expect(toolNames(await discovered("streamable_http"))).toEqual(direct)
  })

  it("proxies calls to a streamable_http server, error answers among them, and logs no transport error and no line over 2 KB", async () => {
    const client = await mcpClient(`${dtma.url}/mcp-servers/${run}-streamable_http/mcp`, dtma.token ?? "")
    try {
      for (let round = 0; round < 3; round++) {
        await expect(client.getPrompt({ name: "nope" })).rejects.toThrow(/not found/)
        for (let n = 0; n < 3; n++) await echo(client, `after an error answer ${round}.${n}`)
      }
    } finally {
      await client.close()
    }
    // The SDK's client resumes an event stream it thinks unanswered a second after it ends.
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    const lines = dtma.output().split("\n")
    expect(lines.filter((line) => line.includes("MCP transport error")).map((line) => line.slice(0, 300))).toEqual([])
    expect(lines.filter((line) => Buffer.byteLength(line) > 2_048).map((line) => line.slice(0, 300))).toEqual([])
  })

  it("deploys a WebSocket server: 201, healthy, and discovers what it lists to a client of its own", async () => {
    const res = await deploy("websocket", { dockerImageUrl: WEBSOCKET, mcpTransportType: "websocket", mcpPort: 8000, mcpEndpointPath: "/message" })
    expect(res).toMatchObject({ status: 201 })
    expect(res.body.data).toMatchObject({ transportType: "websocket", healthStatus: "healthy" })
    const port = await publishedPort("websocket", 8000)
    const direct = await listedDirectly(new WebSocketClientTransport(new URL(`ws://127.0.0.1:${port}/message`)))
    expect(direct).toEqual(MEMORY_TOOLS)
    expect(toolNames(await discovered("websocket"))).toEqual(direct)
  })

  it("stops, starts, restarts and removes a server, its container following", async () => {
    const name = `${run}-stdio`
    const path = `/mcp-servers/${name}`
    const stopped = await dtma.call("POST", `${path}/stop`)
    expect(stopped.body.data).toMatchObject({ healthStatus: "stopped", container: { state: "exited" } })
    const started = await dtma.call("POST", `${path}/start`)
    expect(started).toMatchObject({ status: 200 })
    expect(started.body.data).toMatchObject({ healthStatus: "healthy", container: { state: "running" } })
    const restarted = await dtma.call("POST", `${path}/restart`)
    expect(restarted).toMatchObject({ status: 200 })
    expect(restarted.body.data).toMatchObject({
      healthStatus: "healthy",
      restartCount: 1,
      container: { state: "running" },
      capabilities: { counts: { tools: EVERYTHING_TOOLS.length } },
    })
    const logs = await dtma.call("GET", `${path}/logs?tail=50`)
    expect(logs.status).toBe(200)
    expect(logs.body.data.lines.every((l: { stream: string }) => l.stream === "stderr")).toBe(true)
    const id = restarted.body.data.container.id
    expect(await dtma.call("DELETE", path)).toMatchObject({ status: 200, body: { success: true } })
    expect(containersOfRun().some((c) => id.startsWith(c))).toBe(false)
    expect((await dtma.call("GET", path)).status).toBe(404)
  })

  it("rolls back a server whose process exits at once: 502 with its stderr tail, and no container left", async () => {
    const before = containersOfRun().length
    const res = await deploy("bogus", { mcpTransportType: "stdio", baseConfigOverrideJson: { Cmd: ["bogus-transport"] } })
    expect(res).toMatchObject({ status: 502 })
    expect(res.body).toMatchObject({ success: false, code: "mcp_server_not_ready" })
    expect(res.body.error).toMatch(/Last stderr lines: .+/)
    expect(containersOfRun()).toHaveLength(before)
    expect((await dtma.call("GET", `/mcp-servers/${run}-bogus`)).status).toBe(404)
  })

  it("leaves its servers running on SIGTERM, and the next DTMA adopts them healthy", async () => {
    expect(await deploy("adopted", { mcpTransportType: "stdio" })).toMatchObject({ status: 201 })
    const port = Number(new URL(dtma.url).port)
    await dtma.kill("SIGTERM")
    dtma = await startDtma({ port, stateDir: dtma.stateDir, scope: dtma.scope })
    const view = await dtma.call("GET", `/mcp-servers/${run}-adopted`)
    expect(view).toMatchObject({ status: 200, body: { data: { healthStatus: "healthy", container: { state: "running" } } } })
    expect(toolNames(await discovered("adopted"))).toEqual(EVERYTHING_TOOLS)
    expect(dtma.output()).toContain("supervising MCP servers found at start-up")
  })
})
