import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { CreateMessageRequestSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { docker } from "../support/mcpClient.ts"
import { deployFixture, FIXTURE_OVER_HTTP, FIXTURE_OVER_STDIO } from "../support/conformanceComparison.ts"

// Issue 15, item 1, on a real engine: a server's elicitation and sampling requests reach the client
// whose call they are about, for 20 clients at once, on a `per_agent` stdio server (one instance per
// agent: its one call in flight) and on a shared Streamable HTTP server (the request's own stream);
// a client that did not declare the capability gets a clear error, and nobody else is asked.

const run = `srq${Date.now().toString(36)}`
const STDIO = `${run}-stdio`
const HTTP = `${run}-http`
const CLIENTS = 20

let dtma: DtmaProcess
const opened: Array<Client> = []

/** What one client was asked, by method, and what it answered. */
interface Asker {
  readonly client: Client
  readonly asked: Array<string>
}

const mint = async (agentId: string): Promise<string> => {
  const res = await dtma.call("POST", "/agent-tokens", { agentId, grants: [{ server: STDIO }, { server: HTTP }], ttlSeconds: 900 })
  expect(res.status).toBe(201)
  return res.body.data.token
}

/** Agent `agentId`'s client of `server`'s endpoint; with `capable`, it answers elicitation and sampling as `agentId`. */
const connect = async (server: string, agentId: string, capable: boolean): Promise<Asker> => {
  const asked: Array<string> = []
  const client = new Client({ name: `client-${agentId}`, version: "1.0.0" }, { capabilities: capable ? { elicitation: {}, sampling: {} } : {} })
  if (capable) {
    client.setRequestHandler(ElicitRequestSchema, async () => {
      asked.push("elicitation/create")
      return { action: "accept", content: { username: agentId, email: `${agentId}@example.test` } }
    })
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      asked.push("sampling/createMessage")
      const prompt = (request.params.messages[0]?.content as { text?: string } | undefined)?.text ?? ""
      return { role: "assistant", model: `model-of-${agentId}`, content: { type: "text", text: `${agentId} read: ${prompt}` } }
    })
  }
  const token = await mint(agentId)
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${dtma.url}/mcp-servers/${server}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
  )
  opened.push(client)
  return { client, asked }
}

const textOf = (result: unknown): string => ((result as { content: Array<{ text?: string }> }).content[0]?.text ?? "") as string

beforeAll(async () => {
  dtma = await startDtma({ env: { DTMA_AGENT_RATE_PER_S: "10000", DTMA_AGENT_BURST: "10000", DTMA_ISOLATED_MAX: String(CLIENTS + 2) } })
  await Promise.all([deployFixture(dtma, STDIO, { ...FIXTURE_OVER_STDIO, isolation: "per_agent" }), deployFixture(dtma, HTTP, FIXTURE_OVER_HTTP)])
}, 300_000)

afterAll(async () => {
  await Promise.all(opened.map((c) => c.close().catch(() => undefined)))
  for (const name of [STDIO, HTTP]) await dtma?.call("DELETE", `/mcp-servers/${name}`).catch(() => undefined)
  await dtma?.kill("SIGTERM")
  const left = (await docker("ps", "-aq", "--filter", `label=dtma.isolated-server=${STDIO}`)).split("\n").filter(Boolean)
  if (left.length > 0) throw new Error(`removing ${STDIO} left its agents' containers: ${left.join(", ")}`)
})

describe.each([
  { kind: "a per_agent stdio server (an instance per agent)", server: () => STDIO },
  { kind: "a shared Streamable HTTP server", server: () => HTTP },
])("a server's own requests on $kind, 20 clients at once", ({ server }) => {
  it("reach the client whose call they are about, and each result carries that client's answer", async () => {
    const agents = Array.from({ length: CLIENTS }, (_, i) => `${server()}-agent-${i}`)
    const started = Date.now()
    const askers = await Promise.all(agents.map((agent) => connect(server(), agent, true)))
    const results = await Promise.all(
      askers.map(async ({ client }, i) => {
        const elicited = textOf(await client.callTool({ name: "test_elicitation", arguments: { message: `who is ${i}?` } }))
        const sampled = textOf(await client.callTool({ name: "test_sampling", arguments: { prompt: `prompt ${i}` } }))
        return { elicited, sampled }
      }),
    )
    console.log(`${server()}: ${CLIENTS} clients × (an elicitation + a sampling) answered in ${Date.now() - started} ms`)
    results.forEach(({ elicited, sampled }, i) => {
      expect(elicited).toContain(`"username":"${agents[i]}"`)
      expect(sampled).toBe(`LLM response: ${agents[i]} read: prompt ${i}`)
    })
    // Each client was asked exactly its own two questions, nobody else's.
    expect(askers.map((a) => a.asked)).toEqual(agents.map(() => ["elicitation/create", "sampling/createMessage"]))
  }, 240_000)

  it("answers a client that did not declare the capability with a clear error, asking no other client", async () => {
    const bystander = await connect(server(), `${server()}-bystander`, true)
    const uncapable = await connect(server(), `${server()}-uncapable`, false)
    const result = (await uncapable.client.callTool({ name: "test_elicitation", arguments: { message: "anyone?" } })) as { isError?: boolean }
    expect(result.isError).toBe(true)
    expect(textOf(result)).toMatch(/elicitation/)
    expect(textOf(result)).toMatch(/capabilit/)
    console.log(`${server()}: a client without the capability was told: ${textOf(result)}`)
    expect(bystander.asked).toEqual([])
  }, 120_000)
})
