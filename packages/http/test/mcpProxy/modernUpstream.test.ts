import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { ModernMcpServer } from "@dtma/testing"
import { LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { readStream } from "../support/grantsSupport.ts"
import { eventually, mcpHeaders, proxyClient } from "../support/mcpProxySupport.ts"
import { McpServingRuntime, startTestApp, TOKEN, type TestApp } from "../support/support.ts"

// A server that speaks only MCP 2026-07-28 behind the DTMA: 2025-era clients are translated onto
// it, 2026-07-28 clients' requests pass through with their envelope, input_required included.

const MODERN_IMAGE = "mcp/modern:1"
const MODERN = "2026-07-28"
const PV = "io.modelcontextprotocol/protocolVersion"

let app: TestApp
let served: Array<ModernMcpServer>
const clients: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined)
  await app.close()
})

const start = async () => {
  served = []
  const runtime = new McpServingRuntime({ images: [MODERN_IMAGE] })
  runtime.servers.set(MODERN_IMAGE, () => {
    const server = new ModernMcpServer()
    served.push(server)
    return server
  })
  app = await startTestApp({ runtime })
  const mcp = { transport: "stdio", endpointPath: null, port: null } as const
  for (const name of ["modern", "other"])
    await Effect.runPromise(app.mcpServers.deploy({ name, accountToolInstanceId: null, image: MODERN_IMAGE, env: [], ports: [], mcp }))
  return `${app.base}/mcp-servers/modern/mcp`
}

const received = () => served.flatMap((s) => s.received)

const modernPost = (url: string, id: number, params: Record<string, unknown>, token: string = TOKEN) =>
  fetch(url, {
    method: "POST",
    headers: { ...mcpHeaders(undefined, token), "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": String(params["name"]) },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { ...params, _meta: { [PV]: MODERN, "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } } } },
    }),
  })

describe("a server that speaks only 2026-07-28, behind the DTMA", () => {
  it("serves a 2025-era client: initialize from its discovery, tools listed and called; a question it cannot be asked is an error", async () => {
    const url = await start()
    const { client } = await proxyClient(url)
    clients.push(client)
    expect(client.getServerVersion()).toMatchObject({ name: "dtma-modern", version: "2.0.0" })
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["echo", "greet", "log"])
    expect(await client.callTool({ name: "echo", arguments: { text: "hi" } })).toEqual({ content: [{ type: "text", text: "hi" }] })
    // The client declared no elicitation: the server's question is refused, the call fails saying so.
    await expect(client.callTool({ name: "greet", arguments: {} })).rejects.toThrow(/elicitation\/create.*elicitation/)
    expect(
      received()
        .filter((r) => r.method !== "initialize")
        .every((r) => (r.params["_meta"] as Record<string, unknown> | undefined)?.[PV] === MODERN),
    ).toBe(true)
  })

  it.each([
    ["the server's endpoint", "/mcp-servers/modern/mcp", ""],
    ["/mcp", "/mcp", "modern__"],
  ])("puts the server's question to a 2025-era client that can be asked, on %s, and answers the call with its answer", async (_where, path, prefix) => {
    await start()
    const asked: Array<unknown> = []
    const { client } = await proxyClient(`${app.base}${path}`, TOKEN, {
      elicit: (params) => (asked.push(params), { action: "accept", content: { name: "Ada" } }),
    })
    clients.push(client)
    expect(await client.callTool({ name: `${prefix}greet`, arguments: {} })).toEqual({ content: [{ type: "text", text: "hello Ada" }] })
    expect(asked).toEqual([{ mode: "form", message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } }])
    const calls = received().filter((r) => r.method === "tools/call")
    expect(calls.map((r) => [r.params["requestState"], r.params["inputResponses"]])).toEqual([
      [undefined, undefined],
      ["greet-1", { name: { action: "accept", content: { name: "Ada" } } }],
    ])
    // Told what the client may be asked, in the envelope of both rounds.
    for (const r of calls) expect((r.params["_meta"] as Record<string, unknown>)["io.modelcontextprotocol/clientCapabilities"]).toEqual({ elicitation: {} })
  })

  it.each([
    ["the server's endpoint", "/mcp-servers/modern/mcp", ""],
    ["/mcp", "/mcp", "modern__"],
  ])("tells a 2025-era client on %s that the server's tools changed, heard on the DTMA's listen, and lists the new one", async (_where, path, prefix) => {
    await start()
    const { client, streamOpen } = await proxyClient(`${app.base}${path}`)
    clients.push(client)
    let changes = 0
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++)
    await streamOpen
    const modern = served[0]!
    await eventually(() => expect(modern.received.filter((r) => r.method === "subscriptions/listen")).toHaveLength(1))
    expect(modern.received.find((r) => r.method === "subscriptions/listen")?.params).toMatchObject({
      notifications: { toolsListChanged: true },
      _meta: { [PV]: MODERN },
    })
    await modern.addTool("added")
    await eventually(() => expect(changes).toBe(1))
    expect((await client.listTools()).tools.map((t) => t.name)).toContain(`${prefix}added`)
    expect(await client.callTool({ name: `${prefix}added`, arguments: { text: "new" } })).toEqual({ content: [{ type: "text", text: "new" }] })
  })

  it("tells a 2025-era client subscribed to a resource when it changes, on the DTMA's listen for it, until it unsubscribes", async () => {
    await start()
    const { client, streamOpen } = await proxyClient(`${app.base}/mcp-servers/modern/mcp`)
    clients.push(client)
    const updates: Array<string> = []
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri))
    await streamOpen
    await client.subscribeResource({ uri: "memo://note" })
    const modern = served[0]!
    await eventually(() =>
      expect(modern.received.filter((r) => r.method === "subscriptions/listen").map((r) => r.params["notifications"])).toContainEqual({
        resourceSubscriptions: ["memo://note"],
      }),
    )
    await modern.updateNote("second")
    await eventually(() => expect(updates).toEqual(["memo://note"]))
    expect(await client.readResource({ uri: "memo://note" })).toMatchObject({ contents: [{ uri: "memo://note", text: "second" }] })
    await client.unsubscribeResource({ uri: "memo://note" })
    await modern.updateNote("third")
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(updates).toEqual(["memo://note"])
  })

  it("serves a 2026-07-28 client's own listen from the DTMA's listens upstream: the server's tool changes and the updates of its resource", async () => {
    const url = await start()
    const stream = readStream(
      await fetch(url, {
        method: "POST",
        headers: { ...mcpHeaders(undefined, TOKEN), "mcp-protocol-version": MODERN, "mcp-method": "subscriptions/listen" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 9,
          method: "subscriptions/listen",
          params: {
            notifications: { toolsListChanged: true, resourceSubscriptions: ["memo://note"] },
            _meta: { [PV]: MODERN, "io.modelcontextprotocol/clientCapabilities": {} },
          },
        }),
      }),
    )
    await eventually(() => expect(stream.messages[0]).toMatchObject({ method: "notifications/subscriptions/acknowledged" }))
    const modern = served[0]!
    await eventually(() => expect(modern.received.filter((r) => r.method === "subscriptions/listen")).toHaveLength(2))
    await modern.addTool("later")
    await modern.updateNote("changed")
    const SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"
    await eventually(() => expect(stream.messages).toHaveLength(3))
    expect(stream.messages.slice(1)).toEqual(
      expect.arrayContaining([
        { jsonrpc: "2.0", method: "notifications/tools/list_changed", params: { _meta: { [SUBSCRIPTION]: 9 } } },
        { jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "memo://note", _meta: { [SUBSCRIPTION]: 9 } } },
      ]),
    )
  })

  it("keeps a 2025-era client's logging/setLevel itself and tells the server the level with each request, which then logs to it", async () => {
    await start()
    const { client, streamOpen } = await proxyClient(`${app.base}/mcp-servers/modern/mcp`)
    clients.push(client)
    const logged: Array<unknown> = []
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logged.push(n.params))
    await streamOpen
    expect(await client.callTool({ name: "log", arguments: {} })).toEqual({ content: [{ type: "text", text: "done" }] })
    expect(logged).toEqual([])
    await client.setLoggingLevel("info")
    expect(await client.callTool({ name: "log", arguments: {} })).toEqual({ content: [{ type: "text", text: "done" }] })
    await eventually(() => expect(logged).toEqual([{ level: "warning", data: "logged at info or above" }]))
    const levels = received()
      .filter((r) => r.method === "tools/call")
      .map((r) => (r.params["_meta"] as Record<string, unknown>)["io.modelcontextprotocol/logLevel"])
    expect(levels).toEqual([undefined, "info"])
    expect(received().map((r) => r.method)).not.toContain("logging/setLevel")
  })

  it("serves a 2025-era client on /mcp, the agent endpoint, under the server's prefixed names", async () => {
    await start()
    const { client } = await proxyClient(`${app.base}/mcp`)
    clients.push(client)
    const echo = (await client.listTools()).tools.map((t) => t.name).find((n) => n.endsWith("echo"))!
    expect(await client.callTool({ name: echo, arguments: { text: "there" } })).toMatchObject({ content: [{ type: "text", text: "there" }] })
  })

  it("passes a 2026-07-28 client's request through with the client's own envelope", async () => {
    const url = await start()
    const client = new ModernClient({ name: "modern-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN } } })
    await client.connect(new ModernTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }))
    clients.push(client)
    expect(await client.callTool({ name: "echo", arguments: { text: "hi" } })).toMatchObject({ content: [{ type: "text", text: "hi" }] })
    const call = received().find((r) => r.method === "tools/call")!
    expect(call.params["_meta"]).toMatchObject({ [PV]: MODERN, "io.modelcontextprotocol/clientInfo": { name: "modern-test", version: "1.0.0" } })
  })

  it("hands a 2026-07-28 client the server's input_required, and its retry the server's answer", async () => {
    const url = await start()
    const asked = await modernPost(url, 1, { name: "greet", arguments: {} })
    expect(asked.status).toBe(200)
    const first = (await asked.json()) as { result: Record<string, unknown> }
    expect(first.result).toMatchObject({ resultType: "input_required", inputRequests: { name: { method: "elicitation/create" } } })
    expect(first.result).not.toHaveProperty("ttlMs")
    // Sealed by the DTMA to this server and caller: the client does not see the server's own state.
    expect(first.result["requestState"]).toEqual(expect.any(String))
    expect(first.result["requestState"]).not.toContain("greet-1")
    const retry = await modernPost(url, 2, {
      name: "greet",
      arguments: {},
      inputResponses: { name: { action: "accept", content: { name: "Ada" } } },
      requestState: first.result["requestState"],
    })
    expect(await retry.json()).toMatchObject({ id: 2, result: { resultType: "complete", content: [{ type: "text", text: "hello Ada" }] } })
  })

  it("refuses a requestState replayed at another server, or not sealed by the DTMA, without sending it on", async () => {
    const url = await start()
    const asked = (await (await modernPost(url, 1, { name: "greet", arguments: {} })).json()) as { result: Record<string, unknown> }
    const retry = { name: "greet", arguments: {}, inputResponses: { name: { action: "accept", content: { name: "Ada" } } } }
    const before = received().filter((r) => r.method === "tools/call").length
    for (const [target, requestState] of [
      [`${app.base}/mcp-servers/other/mcp`, asked.result["requestState"]],
      [url, "greet-1"],
      [url, 42],
    ] as const) {
      const refused = await modernPost(target, 2, { ...retry, requestState })
      expect(await refused.json()).toMatchObject({ id: 2, error: { code: -32602, message: expect.stringContaining("requestState") } })
    }
    expect(received().filter((r) => r.method === "tools/call").length).toBe(before)
  })

  it("refuses the operator's requestState to an agent", async () => {
    const url = await start()
    const grants = [{ target: { server: "modern" }, tools: ["*"], prompts: [], resources: false }] as const
    const agent = await Effect.runPromise(app.agentAccess.tokens.mint({ sub: "agent-1", grants: [...grants], ttlSeconds: 900 }))
    const asked = (await (await modernPost(url, 1, { name: "greet", arguments: {} })).json()) as { result: Record<string, unknown> }
    const retry = {
      name: "greet",
      arguments: {},
      inputResponses: { name: { action: "accept", content: { name: "Ada" } } },
      requestState: asked.result["requestState"],
    }
    expect(await (await modernPost(url, 2, retry, agent)).json()).toMatchObject({ id: 2, error: { code: -32602 } })
    expect(await (await modernPost(url, 3, retry)).json()).toMatchObject({ id: 3, result: { content: [{ text: "hello Ada" }] } })
  })

  it("carries input_required and its retry through /mcp, under the server's prefixed tool name", async () => {
    await start()
    const url = `${app.base}/mcp`
    const asked = (await (await modernPost(url, 1, { name: "modern__greet", arguments: {} })).json()) as { result: Record<string, unknown> }
    expect(asked.result).toMatchObject({ resultType: "input_required", inputRequests: { name: { method: "elicitation/create" } } })
    const retry = { name: "modern__greet", arguments: {}, inputResponses: { name: { action: "accept", content: { name: "Bo" } } } }
    const answered = await modernPost(url, 2, { ...retry, requestState: asked.result["requestState"] })
    expect(await answered.json()).toMatchObject({ id: 2, result: { content: [{ type: "text", text: "hello Bo" }] } })
    const elsewhere = await modernPost(url, 3, { ...retry, name: "other__greet", requestState: asked.result["requestState"] })
    expect(await elsewhere.json()).toMatchObject({ id: 3, error: { code: -32602 } })
  })
})
