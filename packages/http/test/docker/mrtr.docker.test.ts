import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { containersOfServer, removeContainers } from "../support/mcpClient.ts"
import { CONFORMANCE_IMAGE } from "../support/mcpProxyConformance.ts"

// Issue 15, item 3, on a real engine: the MRTR bridge. A 2026-07-28 client (the v2 SDK's, pinned)
// calls the conformance fixture's eliciting tool on a 2025-era stdio server (`per_agent`: each test's
// agent its own instance), through the server's endpoint and /mcp: the server's elicitation reaches
// it as input_required, its handler answers, and the retry completes with that answer. A tampered,
// replayed or expired requestState is refused, and an expired call leaves the server able to ask again.

const MODERN = "2026-07-28"
const TTL_MS = 3_000
const run = `mrtr${Date.now().toString(36)}`
const name = `${run}-conformance`

let dtma: DtmaProcess
const opened: Array<ModernClient> = []

beforeAll(async () => {
  dtma = await startDtma({ env: { DTMA_MCP_MRTR_TTL_MS: String(TTL_MS) } })
  const res = await dtma.call("POST", "/mcp-servers", {
    dockerImageUrl: CONFORMANCE_IMAGE,
    instanceNameOnToolbox: name,
    accountToolInstanceId: `ati-${name}`,
    mcpTransportType: "stdio",
    isolation: "per_agent",
  })
  if (res.status !== 201) throw new Error(`deploying ${CONFORMANCE_IMAGE}: ${res.status} ${JSON.stringify(res.body)}`)
}, 180_000)

// Each test's agent has a container of its own, named `<server>/<agent>` (dtma.name) and labelled
// dtma.isolated-server: removing the server through the DTMA removes them; whatever a failed run
// leaves is removed by those labels, and the file fails if anything of the server remains.
afterAll(async () => {
  for (const c of opened) await c.close().catch(() => undefined)
  await dtma?.call("DELETE", `/mcp-servers/${name}`).catch(() => undefined)
  await dtma?.kill("SIGTERM")
  await removeContainers(await containersOfServer(name))
  const left = await containersOfServer(name)
  if (left.length > 0) throw new Error(`the run left containers of ${name} behind: ${left.join(", ")}`)
})

let agents = 0
/** A token of a new agent, granted the server. */
const mint = async (): Promise<string> => {
  const res = await dtma.call("POST", "/agent-tokens", { agentId: `${run}-agent-${++agents}`, grants: [{ server: name }], ttlSeconds: 900 })
  expect(res.status).toBe(201)
  return res.body.data.token
}

const textOf = (result: unknown): string => (result as { content: Array<{ text?: string }> }).content[0]?.text ?? ""

type Answer = { id: unknown; result?: Record<string, unknown>; error?: { code: number; message: string; data?: { reason?: string } } }

/** A hand-made 2026-07-28 tools/call of `tool` on `url` (declaring form elicitation), with a retry's fields. */
const call = async (url: string, token: string, tool: string, id: number, retry: Record<string, unknown> = {}): Promise<Answer> => {
  const meta = { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } } }
  const res = await fetch(url, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": MODERN,
      "mcp-method": "tools/call",
      "mcp-name": tool,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: tool, arguments: { message: "Who are you?" }, ...retry, _meta: meta } }),
  })
  expect(res.status).toBe(200)
  const body = await res.text()
  // One JSON body, or an event stream whose last event is the answer.
  const json = body.startsWith("{")
    ? body
    : (
        body
          .split("\n")
          .filter((l) => l.startsWith("data: "))
          .at(-1) ?? ""
      ).slice(6)
  return JSON.parse(json) as Answer
}

const ANSWER = { action: "accept", content: { username: "modern-docker", email: "modern@example.test" } }

describe.each([
  ["the server's endpoint", () => `${dtma.url}/mcp-servers/${name}/mcp`, ""],
  ["/mcp", () => `${dtma.url}/mcp`, `${name}__`],
])("a 2026-07-28 client on %s, in front of a 2025-era stdio server that elicits", (_where, urlOf, prefix) => {
  it("completes the eliciting call through MRTR with the answer its handler gave", async () => {
    const client = new ModernClient(
      { name: "modern-mrtr", version: "1.0.0" },
      { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { elicitation: { form: {} } } },
    )
    const asked: Array<string> = []
    client.setRequestHandler("elicitation/create", async (request) => {
      asked.push(request.params.message)
      return { action: "accept", content: { username: `v2-${prefix === "" ? "own" : "agg"}`, email: "v2@example.test" } }
    })
    const token = await mint()
    await client.connect(new ModernTransport(new URL(urlOf()), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
    opened.push(client)
    const result = await client.callTool({ name: `${prefix}test_elicitation`, arguments: { message: "Your name, please?" } })
    expect(asked).toEqual(["Your name, please?"])
    expect(textOf(result)).toBe(`User response: action=accept, content={"username":"v2-${prefix === "" ? "own" : "agg"}","email":"v2@example.test"}`)
  }, 60_000)

  it("refuses a tampered, replayed or expired requestState with -32602; the right retry completes", async () => {
    const url = urlOf()
    const tool = `${prefix}test_elicitation`
    const token = await mint()
    const first = await call(url, token, tool, 1)
    expect(first.result).toMatchObject({ resultType: "input_required", inputRequests: { r1: { method: "elicitation/create" } } })
    const state = String(first.result!["requestState"])
    const tampered = state.slice(0, 20) + (state[20] === "A" ? "B" : "A") + state.slice(21)
    const bad = await call(url, token, tool, 2, { inputResponses: { r1: ANSWER }, requestState: tampered })
    expect(bad.error).toMatchObject({ code: -32602, data: { reason: "invalid" } })

    const done = await call(url, token, tool, 3, { inputResponses: { r1: ANSWER }, requestState: state })
    expect(textOf(done.result)).toBe(`User response: action=accept, content=${JSON.stringify(ANSWER.content)}`)
    const replayed = await call(url, token, tool, 4, { inputResponses: { r1: ANSWER }, requestState: state })
    expect(replayed.error).toMatchObject({ code: -32602, data: { reason: "used" } })

    const later = await call(url, token, tool, 5)
    await new Promise((resolve) => setTimeout(resolve, TTL_MS + 500))
    const expired = await call(url, token, tool, 6, { inputResponses: { r1: ANSWER }, requestState: later.result!["requestState"] })
    expect(expired.error).toMatchObject({ code: -32602, data: { reason: "expired" } })
    // The server is free again: its expired call ended (the elicitation answered with an error), and the next one goes through.
    const again = await call(url, token, tool, 7)
    const after = await call(url, token, tool, 8, { inputResponses: { r1: ANSWER }, requestState: again.result!["requestState"] })
    expect(textOf(after.result)).toContain('"username":"modern-docker"')
  }, 60_000)
})
