import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { containersNamed, docker, removeContainersNamed, textOf } from "../support/mcpClient.ts"
import { runInspector } from "../support/mcpInspector.ts"
import { eventually } from "../support/mcpProxySupport.ts"

// Issue 14 on a real engine: one agent endpoint in front of three real servers (server-everything
// over stdio and over Streamable HTTP, server-memory over WebSocket), the official SDK client, the
// MCP Inspector CLI, and a server killed under load.

const EVERYTHING = "dtma/mcp-everything:2026.8.31"
const WEBSOCKET = "dtma/mcp-websocket:4.0.0"
const run = `ae${Date.now().toString(36)}`
const STDIO = `${run}-everything`
const HTTP = `${run}-http`
const WS = `${run}-websocket`
const SERVERS = [STDIO, HTTP, WS]
const A_TOOLS = ["echo", "get-sum", "trigger-long-running-operation"]

let dtma: DtmaProcess
const clients: Array<Client> = []
/** The Inspector's HOME: it keeps a catalog there. */
const inspectorHome = mkdtempSync(join(tmpdir(), "inspector-home-"))
/** Each server's tools as the operator's own endpoint lists them. */
const own: Record<string, ReadonlyArray<string>> = {}

const listed = (server: string, names: ReadonlyArray<string>) => names.map((n) => `${server}__${n}`)

const mint = async (agentId: string, grants: ReadonlyArray<Record<string, unknown>>): Promise<string> => {
  const res = await dtma.call("POST", "/agent-tokens", { agentId, grants, ttlSeconds: 900 })
  expect(res.status).toBe(201)
  return res.body.data.token
}

/** The SDK client on `path` under `token`, and the methods of the notifications it heard. */
const connect = async (path: string, token: string): Promise<{ readonly client: Client; readonly heard: Array<string> }> => {
  const client = new Client({ name: "agent-endpoint-e2e", version: "1.0.0" })
  const heard: Array<string> = []
  client.fallbackNotificationHandler = async (n) => void heard.push(n.method)
  let opened: () => void = () => undefined
  const streamOpen = new Promise<void>((resolve) => (opened = resolve))
  const transport = new StreamableHTTPClientTransport(new URL(`${dtma.url}${path}`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    fetch: async (input, init) => {
      const res = await fetch(input, init)
      if (init?.method === "GET" && res.ok) opened()
      return res
    },
  })
  await client.connect(transport)
  clients.push(client)
  await streamOpen
  return { client, heard }
}

const toolNames = async (client: Client): Promise<ReadonlyArray<string>> => (await client.listTools()).tools.map((t) => t.name)

beforeAll(async () => {
  // Calls back to back from one agent: its rate limit is not what this test is about.
  dtma = await startDtma({ env: { DTMA_AGENT_RATE_PER_S: "10000", DTMA_AGENT_BURST: "10000" } })
  const deploy = async (name: string, body: Record<string, unknown>) => {
    const res = await dtma.call("POST", "/mcp-servers", { instanceNameOnToolbox: name, accountToolInstanceId: `ati-${name}`, ...body })
    if (res.status !== 201) throw new Error(`deploying ${name} answered ${res.status}: ${JSON.stringify(res.body)}`)
  }
  await Promise.all([
    deploy(STDIO, { dockerImageUrl: EVERYTHING, mcpTransportType: "stdio" }),
    deploy(HTTP, {
      dockerImageUrl: EVERYTHING,
      mcpTransportType: "streamable_http",
      mcpPort: 3001,
      baseConfigOverrideJson: { Cmd: ["streamableHttp"], Env: ["PORT=3001"] },
    }),
    deploy(WS, { dockerImageUrl: WEBSOCKET, mcpTransportType: "websocket", mcpPort: 8000, mcpEndpointPath: "/message" }),
  ])
  for (const name of SERVERS) own[name] = await toolNames((await connect(`/mcp-servers/${name}/mcp`, dtma.token!)).client)
}, 300_000)

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
  await Promise.all(SERVERS.map((name) => dtma?.call("DELETE", `/mcp-servers/${name}`)))
  await dtma?.kill("SIGTERM")
  await removeContainersNamed(SERVERS)
  rmSync(inspectorHome, { recursive: true, force: true })
})

describe("the agent endpoint on a real DTMA in front of three real servers", () => {
  it("shows an agent exactly the union of its grants under <server>__<name>, calls each server, with progress; another agent sees only its own", async () => {
    const token = await mint("agent-a", [{ server: STDIO, tools: A_TOOLS, prompts: [], resources: false }, { server: HTTP, tools: ["echo"] }, { server: WS }])
    const { client } = await connect("/mcp", token)
    expect(await toolNames(client)).toEqual([
      ...listed(
        STDIO,
        own[STDIO]!.filter((t) => A_TOOLS.includes(t)),
      ),
      ...listed(HTTP, ["echo"]),
      ...listed(WS, own[WS]!),
    ])
    expect(textOf(await client.callTool({ name: `${STDIO}__echo`, arguments: { message: "one" } }))).toBe("Echo: one")
    expect(textOf(await client.callTool({ name: `${HTTP}__echo`, arguments: { message: "two" } }))).toBe("Echo: two")
    expect(textOf(await client.callTool({ name: `${STDIO}__get-sum`, arguments: { a: 2, b: 40 } }))).toContain("42")
    await client.callTool({ name: `${WS}__create_entities`, arguments: { entities: [{ name: run, entityType: "e2e", observations: ["seen"] }] } })
    expect(JSON.stringify(await client.callTool({ name: `${WS}__search_nodes`, arguments: { query: run } }))).toContain("seen")
    const progress: Array<number> = []
    await client.callTool({ name: `${STDIO}__trigger-long-running-operation`, arguments: { duration: 1, steps: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    })
    expect(progress).toEqual([1, 2, 3])

    const other = await connect("/mcp", await mint("agent-b", [{ server: WS, tools: ["read_graph"], prompts: [], resources: false }]))
    expect(await toolNames(other.client)).toEqual([`${WS}__read_graph`])
  })

  it("lists exactly an agent's union under <server>__<name> to the MCP Inspector CLI on /mcp", async () => {
    const token = await mint("agent-inspector", [
      { server: STDIO, tools: ["echo"] },
      { server: HTTP, tools: ["get-sum"] },
      { server: WS, tools: ["read_graph"] },
    ])
    const listing = await runInspector(
      [`${dtma.url}/mcp`, "--transport", "http", "--header", `Authorization: Bearer ${token}`, "--format", "json", "--method", "tools/list"],
      { home: inspectorHome, secrets: [token, dtma.token!] },
    )
    expect(listing.failure).toBeNull()
    expect(JSON.parse(listing.stdout).result.tools.map((t: { name: string }) => t.name)).toEqual([`${STDIO}__echo`, `${HTTP}__get-sum`, `${WS}__read_graph`])
  })

  it("keeps answering every call to the other servers when one is killed; list_changed drops its tools, and brings them back when it is", async () => {
    const token = await mint(
      "agent-c",
      SERVERS.map((server) => ({ server })),
    )
    const { client, heard } = await connect("/mcp", token)
    const all = await toolNames(client)
    expect(all.filter((n) => n.startsWith(`${HTTP}__`))).toHaveLength(own[HTTP]!.length)
    const tally = { ok: 0, failed: 0, errors: [] as Array<string> }
    const state = { running: true }
    /** Calls `call` back to back until stopped; a call that throws or whose answer `ok` refuses counts as failed. */
    const loop = async (call: (n: number) => Promise<unknown>, ok: (result: unknown, n: number) => boolean) => {
      for (let n = 0; state.running; n++) {
        try {
          const result = await call(n)
          if (!ok(result, n)) throw new Error(`answered ${JSON.stringify(result).slice(0, 200)}`)
          tally.ok++
        } catch (error) {
          tally.failed++
          if (tally.errors.length < 5) tally.errors.push(String(error))
        }
      }
    }
    const loops = [
      loop(
        (n) => client.callTool({ name: `${STDIO}__echo`, arguments: { message: `${n}` } }),
        (result, n) => textOf(result) === `Echo: ${n}`,
      ),
      loop(
        () => client.callTool({ name: `${WS}__read_graph`, arguments: {} }),
        (result) => (result as { isError?: boolean }).isError !== true,
      ),
    ]
    const [container] = await containersNamed(HTTP)
    await docker("kill", container!.id)
    await eventually(() => expect(heard).toContain("notifications/tools/list_changed"), 30_000)
    expect((await toolNames(client)).filter((n) => n.startsWith(`${HTTP}__`))).toEqual([])
    heard.length = 0
    await eventually(async () => expect((await toolNames(client)).filter((n) => n.startsWith(`${HTTP}__`))).toHaveLength(own[HTTP]!.length), 90_000)
    expect(heard).toContain("notifications/tools/list_changed")
    state.running = false
    await Promise.all(loops)
    expect(tally.errors).toEqual([])
    expect(tally.failed).toBe(0)
    expect(tally.ok).toBeGreaterThan(10)
    expect(textOf(await client.callTool({ name: `${HTTP}__echo`, arguments: { message: "back" } }))).toBe("Echo: back")
  }, 180_000)
})
