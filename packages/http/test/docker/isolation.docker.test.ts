import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { docker, waitFor } from "../support/mcpClient.ts"

// Issue 14, item 3, on a real engine: one `per_agent` server-memory server, two agents each with a
// knowledge graph of its own (one over the server's endpoint, one over /mcp), the cap, a SIGKILL of
// the DTMA (a new one adopts every instance), idle instances reaped and brought back, and removal.

const MEMORY = "dtma/mcp-memory:2026.8.31"
const run = `iso${Date.now().toString(36)}`
const SERVER = `${run}-memory`
const MAX = 2
const RATES = { DTMA_AGENT_RATE_PER_S: "10000", DTMA_AGENT_BURST: "10000" }

let dtma: DtmaProcess
const clients: Array<Client> = []

const mint = async (agentId: string): Promise<string> => {
  const res = await dtma.call("POST", "/agent-tokens", { agentId, grants: [{ server: SERVER }], ttlSeconds: 900 })
  expect(res.status).toBe(201)
  return res.body.data.token
}

const connect = async (path: string, token: string): Promise<Client> => {
  const client = new Client({ name: "isolation-e2e", version: "1.0.0" })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${dtma.url}${path}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  clients.push(client)
  return client
}

/** The names of the entities in the graph `client` reads with `tool`. */
const entities = async (client: Client, tool: string): Promise<ReadonlyArray<string>> => {
  const result = (await client.callTool({ name: tool, arguments: {} })) as { content: Array<{ text: string }> }
  const graph = JSON.parse(result.content[0]!.text) as { entities: Array<{ name: string }> }
  return graph.entities.map((e) => e.name).sort()
}

const create = (client: Client, tool: string, name: string) =>
  client.callTool({ name: tool, arguments: { entities: [{ name, entityType: "note", observations: [`${name} was here`] }] } })

/** The agents' containers of the server: `agent → container id`, from their labels. */
const agentContainers = async (): Promise<Map<string, string>> =>
  new Map(
    (await docker("ps", "-a", "--no-trunc", "--filter", `label=dtma.isolated-server=${SERVER}`, "--format", '{{.ID}} {{.Label "dtma.isolated-agent"}}'))
      .split("\n")
      .filter(Boolean)
      .map((line) => [line.slice(line.indexOf(" ") + 1), line.slice(0, line.indexOf(" "))] as const),
  )

const instancesShown = async (): Promise<ReadonlyArray<{ agentId: string; containerId: string; healthStatus: string }>> =>
  (await dtma.call("GET", `/mcp-servers/${SERVER}`)).body.data.instances

let tokenA = ""
let tokenB = ""
let coldStartMs = 0
/** When the second DTMA adopted the instances: they count as used then. */
let adoptedAt = 0

beforeAll(async () => {
  dtma = await startDtma({ env: { ...RATES, DTMA_ISOLATED_IDLE_S: "600", DTMA_ISOLATED_MAX: String(MAX) } })
  const res = await dtma.call("POST", "/mcp-servers", {
    instanceNameOnToolbox: SERVER,
    accountToolInstanceId: `ati-${SERVER}`,
    dockerImageUrl: MEMORY,
    mcpTransportType: "stdio",
    isolation: "per_agent",
  })
  if (res.status !== 201) throw new Error(`deploying answered ${res.status}: ${JSON.stringify(res.body)}`)
  tokenA = await mint("agent-a")
  tokenB = await mint("agent-b")
}, 300_000)

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
  await dtma?.call("DELETE", `/mcp-servers/${SERVER}`).catch(() => undefined)
  await dtma?.kill("SIGTERM")
  const left = [...(await agentContainers()).values()]
  const base = (await docker("ps", "-aq", "--filter", `label=dtma.name=${SERVER}`)).split("\n").filter(Boolean)
  if (left.length + base.length > 0) await docker("rm", "-f", ...left, ...base).catch(() => undefined)
})

describe("a per_agent server-memory server on a real DTMA", () => {
  it("gives each agent a graph of its own, through the server's endpoint and through /mcp, in a container labelled with the server and the agent", async () => {
    const started = performance.now()
    const a = await connect(`/mcp-servers/${SERVER}/mcp`, tokenA)
    coldStartMs = performance.now() - started
    const warmStarted = performance.now()
    await connect(`/mcp-servers/${SERVER}/mcp`, tokenA)
    const warmMs = performance.now() - warmStarted
    console.log(`cold start of a per-agent stdio instance (initialize of its first session): ${coldStartMs.toFixed(0)} ms; warm: ${warmMs.toFixed(0)} ms`)

    const b = await connect("/mcp", tokenB)
    await create(a, "create_entities", "alpha-secret")
    await create(b, `${SERVER}__create_entities`, "beta-plan")
    expect(await entities(a, "read_graph")).toEqual(["alpha-secret"])
    expect(await entities(b, `${SERVER}__read_graph`)).toEqual(["beta-plan"])

    // The operator reaches the server's base instance, which no agent wrote to.
    const operator = await connect(`/mcp-servers/${SERVER}/mcp`, dtma.token!)
    expect(await entities(operator, "read_graph")).toEqual([])

    const containers = await agentContainers()
    expect([...containers.keys()].sort()).toEqual(["agent-a", "agent-b"])
    const shown = await instancesShown()
    expect(shown.map((i) => [i.agentId, i.containerId, i.healthStatus])).toEqual([
      ["agent-a", containers.get("agent-a"), "healthy"],
      ["agent-b", containers.get("agent-b"), "healthy"],
    ])
    // The server is listed once; its agents' instances are no servers or tools of their own.
    const listed = (await dtma.call("GET", "/mcp-servers")).body.data.servers.filter((s: { instanceName: string }) => s.instanceName.startsWith(run))
    expect(listed.map((s: { instanceName: string; isolation: string; instances: number }) => [s.instanceName, s.isolation, s.instances])).toEqual([
      [SERVER, "per_agent", 2],
    ])
    const tools = (await dtma.call("GET", "/tools/status")).body.tool_instances.filter((t: { instance_name_on_toolbox: string }) =>
      t.instance_name_on_toolbox.startsWith(run),
    )
    expect(tools.map((t: { instance_name_on_toolbox: string }) => t.instance_name_on_toolbox)).toEqual([SERVER])
    const logs = await dtma.call("GET", `/mcp-servers/${SERVER}/logs?agent=agent-a`)
    expect(logs.status).toBe(200)
  })

  it("answers an agent past the server's most instances with a JSON-RPC error naming the server and the limit, audited", async () => {
    const refused = await connect(`/mcp-servers/${SERVER}/mcp`, await mint("agent-c")).then(
      () => null,
      (e: Error) => e.message,
    )
    expect(refused).toContain(`'${SERVER}'`)
    expect(refused).toContain(`already runs ${MAX}`)
    expect((await agentContainers()).has("agent-c")).toBe(false)
    const audit = await waitFor(
      "the refusal's audit record",
      async () => {
        const records: ReadonlyArray<{ server: string | null; outcome: string; method: string | null }> = (
          await dtma.call("GET", `/audit?agentId=agent-c&server=${SERVER}`)
        ).body.data.records
        return records.length > 0 ? records : undefined
      },
      10_000,
      100,
    )
    expect(audit.map((r) => [r.server, r.method, r.outcome])).toContainEqual([SERVER, "initialize", "rate_limited"])
  })

  it("loses no instance to a SIGKILL of the DTMA: the next one adopts them, the same containers, each agent's graph still there", async () => {
    const before = await agentContainers()
    const port = Number(new URL(dtma.url).port)
    await dtma.kill("SIGKILL")
    dtma = await startDtma({ port, scope: dtma.scope, stateDir: dtma.stateDir, env: { ...RATES, DTMA_ISOLATED_IDLE_S: "4", DTMA_ISOLATED_MAX: String(MAX) } })
    adoptedAt = performance.now()
    expect(await agentContainers()).toEqual(before)
    const shown = await instancesShown()
    expect(new Map(shown.map((i) => [i.agentId, i.containerId]))).toEqual(before)
    const a = await connect(`/mcp-servers/${SERVER}/mcp`, tokenA)
    expect(await entities(a, "read_graph")).toEqual(["alpha-secret"])
    expect(await agentContainers()).toEqual(before)
  })

  it("removes an agent's instance left idle, and its next call brings a new one", async () => {
    const before = await agentContainers()
    await waitFor("agent-b's instance reaped", async () => ((await agentContainers()).has("agent-b") ? undefined : true), 30_000, 100)
    const reapMs = performance.now() - adoptedAt
    console.log(`an instance idle since adoption (DTMA_ISOLATED_IDLE_S=4) was gone ${reapMs.toFixed(0)} ms after it (its container removed)`)
    expect((await instancesShown()).map((i) => i.agentId)).not.toContain("agent-b")
    const b = await connect("/mcp", tokenB)
    expect(await entities(b, `${SERVER}__read_graph`)).toEqual([])
    const after = await agentContainers()
    expect(after.get("agent-b")).toBeDefined()
    expect(after.get("agent-b")).not.toBe(before.get("agent-b"))
  })

  it("leaves no container with its labels once it is removed", async () => {
    expect((await dtma.call("DELETE", `/mcp-servers/${SERVER}`)).status).toBe(200)
    expect(await agentContainers()).toEqual(new Map())
    expect(await docker("ps", "-aq", "--filter", `label=dtma.name=${SERVER}`)).toBe("")
  })
})
