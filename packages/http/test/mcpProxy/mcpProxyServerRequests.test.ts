import { Effect } from "effect"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterEach, describe, expect, it } from "vitest"
import { z } from "zod"
import type { Grants } from "@dtma/domain"
import { DEFAULT_MCP_CONFIG, type McpConfig } from "../../src/composition/mcpConfig.ts"
import { postIn, readStream, type Stream } from "../support/grantsSupport.ts"
import { auditRecords, McpServingRuntime, startTestApp, TOKEN, type TestApp } from "../support/support.ts"

const ASKER_IMAGE = "dtma/mcp-asker:1"

/** What the asker's tools got back from the client, in order. */
const outcomes: Array<string> = []
const held = new Map<string, () => void>()

/**
 * A server that asks its client: tool `ask` sends `method` with `params` about the call (on the call's
 * own stream where the transport has one), or, `aside`, about nothing; it answers what came back.
 */
const askerServer = (): McpServer => {
  const server = new McpServer({ name: "asker", version: "1.0.0" })
  const args = { method: z.string(), params: z.record(z.string(), z.unknown()).optional(), aside: z.boolean().optional() }
  server.registerTool("ask", { description: "asks the client", inputSchema: args }, async ({ method, params, aside }, extra) => {
    const request = { method, ...(params === undefined ? {} : { params }) } as never
    let text: string
    try {
      const result = aside === true ? await server.server.request(request, z.looseObject({})) : await extra.sendRequest(request, z.looseObject({}))
      text = `answered ${JSON.stringify(result)}`
    } catch (error) {
      const e = error as { code?: number; message?: string }
      text = `refused ${String(e.code)} ${String(e.message)}`
    }
    outcomes.push(text)
    return { content: [{ type: "text", text }] }
  })
  server.registerTool("hold", { description: "holds until released", inputSchema: { tag: z.string() } }, async ({ tag }) => {
    await new Promise<void>((resolve) => held.set(tag, resolve))
    return { content: [{ type: "text", text: "released" }] }
  })
  return server
}

let app: TestApp
afterEach(async () => {
  outcomes.length = 0
  held.clear()
  await app.close()
})

const startApp = async (mcp: Partial<McpConfig> = {}): Promise<void> => {
  const runtime = new McpServingRuntime({ images: [ASKER_IMAGE] })
  runtime.servers.set(ASKER_IMAGE, askerServer)
  app = await startTestApp({ runtime, config: { mcp: { ...DEFAULT_MCP_CONFIG, pingBaseMs: 600_000, pingMaxMs: 600_000, ...mcp } } })
  const deploy = (name: string, mcpTarget: Parameters<typeof app.mcpServers.deploy>[0]["mcp"], ports: Parameters<typeof app.mcpServers.deploy>[0]["ports"]) =>
    Effect.runPromise(app.mcpServers.deploy({ name, accountToolInstanceId: null, image: ASKER_IMAGE, env: [], ports, mcp: mcpTarget }))
  await deploy("local", { transport: "stdio", endpointPath: null, port: null }, [])
  await deploy("remote", { transport: "streamable_http", endpointPath: "/mcp", port: 3000 }, [
    { containerPort: 3000, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null },
  ])
}

const endpoint = (name: string) => `${app.base}/mcp-servers/${name}/mcp`

/** An SDK client of `url` that declares `capabilities` and answers what it is asked as `who`. */
const clientOf = async (url: string, token: string, who: string, capabilities: Record<string, unknown> = { elicitation: {}, sampling: {}, roots: {} }) => {
  const client = new Client({ name: who, version: "1.0.0" }, { capabilities })
  if ("elicitation" in capabilities) client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: who } }))
  if ("sampling" in capabilities)
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", content: { type: "text", text: `${who} samples` }, model: who }))
  if ("roots" in capabilities) client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: `file:///${who}` }] }))
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  return client
}

const ELICIT = {
  method: "elicitation/create",
  params: { message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } },
}
const textOf = (result: unknown): string => (result as { content: Array<{ text: string }> }).content[0]!.text
const ask = (client: Client, args: Record<string, unknown>, name = "ask") => client.callTool({ name, arguments: args }).then(textOf)

describe.each(["local", "remote"])("a server (%s) asking the client whose call it serves", (server) => {
  it("reaches that client, and its answer reaches the server, for elicitation, sampling and roots", async () => {
    await startApp()
    const ada = await clientOf(endpoint(server), TOKEN, "ada")
    const bob = await clientOf(endpoint(server), TOKEN, "bob")
    expect(await ask(ada, ELICIT)).toBe('answered {"action":"accept","content":{"name":"ada"}}')
    expect(await ask(bob, ELICIT)).toBe('answered {"action":"accept","content":{"name":"bob"}}')
    const sampling = { method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: "hi" } }], maxTokens: 5 } }
    const sampled = await ask(bob, sampling)
    expect(JSON.parse(sampled.replace(/^answered /, ""))).toEqual({ role: "assistant", content: { type: "text", text: "bob samples" }, model: "bob" })
    expect(await ask(ada, { method: "roots/list" })).toBe('answered {"roots":[{"uri":"file:///ada"}]}')
    await Promise.all([ada.close(), bob.close()])
  })

  it("answers the server MethodNotFound, asking nobody, when the client did not declare the capability", async () => {
    await startApp()
    const plain = await clientOf(endpoint(server), TOKEN, "plain", { sampling: {} })
    expect(await ask(plain, ELICIT)).toBe("refused -32601 MCP error -32601: the client did not declare the elicitation capability in its initialize")
    expect(await ask(plain, { method: "roots/list" })).toBe(
      "refused -32601 MCP error -32601: the client did not declare the roots capability in its initialize",
    )
    await plain.close()
  })
})

describe.each(["local", "remote"])("a server (%s) asking about a 2026-07-28 client's call", (server) => {
  it("is not put on the call's stream: the client gets it inside its call's result, input_required (the MRTR bridge, mrtrBridge.test.ts)", async () => {
    await startApp()
    const meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } },
    }
    const res = await fetch(endpoint(server), {
      method: "POST",
      headers: {
        authorization: `Bearer ${TOKEN}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "ask",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask", arguments: ELICIT, _meta: meta } }),
    })
    expect(res.headers.get("content-type")).toBe("application/json")
    const answer = (await res.json()) as { result: Record<string, unknown> }
    expect(answer.result).toMatchObject({ resultType: "input_required", inputRequests: { r1: ELICIT }, requestState: expect.any(String) })
  })
})

describe("a server asking over Streamable HTTP", () => {
  it("reaches, for calls at the same time, each call's own client", async () => {
    await startApp()
    const clients = await Promise.all(["ada", "bob", "cy"].map((who) => clientOf(endpoint("remote"), TOKEN, who)))
    const answers = await Promise.all(clients.flatMap((c) => [ask(c, ELICIT), ask(c, ELICIT)]))
    expect(answers).toEqual(["ada", "ada", "bob", "bob", "cy", "cy"].map((who) => `answered {"action":"accept","content":{"name":"${who}"}}`))
    await Promise.all(clients.map((c) => c.close()))
  })

  it("is refused, asking nobody, when it sends its request on no call's stream", async () => {
    await startApp()
    const ada = await clientOf(endpoint("remote"), TOKEN, "ada")
    expect(await ask(ada, { ...ELICIT, aside: true })).toMatch(/^refused -32601 .*only on the event stream of the client request it is about$/)
    await ada.close()
  })
})

describe("a server asking over stdio", () => {
  it("is refused, asking nobody, while another call is in flight on the connection", async () => {
    await startApp()
    const [ada, bob] = [await clientOf(endpoint("local"), TOKEN, "ada"), await clientOf(endpoint("local"), TOKEN, "bob")]
    const holding = ask(bob, { tag: "h" }, "hold")
    await expect.poll(() => held.has("h")).toBe(true)
    expect(await ask(ada, ELICIT)).toMatch(/^refused -32601 .*only while exactly one client request is in flight/)
    held.get("h")?.()
    expect(await holding).toBe("released")
    expect(await ask(ada, ELICIT)).toBe('answered {"action":"accept","content":{"name":"ada"}}')
    await Promise.all([ada.close(), bob.close()])
  })
})

describe("an agent on /mcp", () => {
  it("is asked what the server asks about its call, under the DTMA's id, and answers it", async () => {
    await startApp()
    const grants: Grants = [{ target: { server: "local" }, tools: ["*"], prompts: [], resources: false }]
    const token = await Effect.runPromise(app.agentAccess.tokens.mint({ sub: "agent-1", grants, ttlSeconds: 900 }))
    const agent = await clientOf(`${app.base}/mcp`, token, "agent")
    expect(await ask(agent, ELICIT, "local__ask")).toBe('answered {"action":"accept","content":{"name":"agent"}}')
    await agent.close()
  })
})

/** Opens a session declaring elicitation; its id. */
const rawSession = async (url: string, token: string) => {
  const init = { protocolVersion: "2025-11-25", capabilities: { elicitation: {} }, clientInfo: { name: "raw", version: "1" } }
  const res = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: init }),
  })
  await res.text()
  return res.headers.get("mcp-session-id")!
}

/** Calls `ask` on a session by hand: the answer's event stream, read as it comes, and the request the DTMA sent on it. */
const askByHand = async (url: string, session: string, token: string): Promise<{ stream: Stream; asked: Record<string, unknown> }> => {
  const stream = readStream(await postIn(url, session, token, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "ask", arguments: ELICIT } }))
  await expect.poll(() => stream.messages.length).toBe(1)
  return { stream, asked: stream.messages[0]! }
}

describe.each(["local", "remote"])("a client's answers to what a server (%s) asked", (server) => {
  it("reach the server only from the session asked: another session's answer is refused with 400 and audited", async () => {
    await startApp()
    const [mine, other] = [await rawSession(endpoint(server), TOKEN), await rawSession(endpoint(server), TOKEN)]
    const { stream, asked } = await askByHand(endpoint(server), mine, TOKEN)
    expect(asked).toMatchObject({ jsonrpc: "2.0", id: "dtma-1", method: "elicitation/create", params: { message: "Your name?" } })
    const forged = await postIn(endpoint(server), other, TOKEN, { jsonrpc: "2.0", id: "dtma-1", result: { action: "accept", content: { name: "mallory" } } })
    expect(forged.status).toBe(400)
    expect(await forged.json()).toMatchObject({ id: null, error: { code: -32600, data: { error: "unexpected_response" } } })
    const answered = await postIn(endpoint(server), mine, TOKEN, { jsonrpc: "2.0", id: "dtma-1", result: { action: "accept", content: { name: "me" } } })
    expect(answered.status).toBe(202)
    await stream.ended
    expect(stream.messages.at(-1)).toEqual({
      jsonrpc: "2.0",
      id: 7,
      result: { content: [{ type: "text", text: 'answered {"action":"accept","content":{"name":"me"}}' }] },
    })
    const records = await auditRecords(app.auditLog, 1)
    expect(records).toContainEqual(expect.objectContaining({ method: "POST", outcome: "error", errorCode: "unexpected_response" }))
  })

  it("not given in time: the server gets RequestTimeout, the client a cancellation of the request", async () => {
    await startApp({ serverRequestTimeoutMs: 200 })
    const session = await rawSession(endpoint(server), TOKEN)
    const { stream } = await askByHand(endpoint(server), session, TOKEN)
    await stream.ended
    expect(stream.messages.slice(1)).toEqual([
      { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "dtma-1", reason: "The server no longer needs the answer" } },
      {
        jsonrpc: "2.0",
        id: 7,
        result: { content: [{ type: "text", text: "refused -32001 MCP error -32001: the client did not answer elicitation/create within 200 ms" }] },
      },
    ])
  })

  it("after its call is cancelled, are refused; the server's request ended with an error", async () => {
    await startApp()
    const session = await rawSession(endpoint(server), TOKEN)
    const { stream } = await askByHand(endpoint(server), session, TOKEN)
    await postIn(endpoint(server), session, TOKEN, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 7 } })
    await stream.ended
    await expect.poll(() => outcomes).toEqual([expect.stringMatching(/^refused -32600 .*ended before its client answered$/)])
    const late = await postIn(endpoint(server), session, TOKEN, { jsonrpc: "2.0", id: "dtma-1", result: { action: "decline" } })
    expect(late.status).toBe(400)
  })
})
