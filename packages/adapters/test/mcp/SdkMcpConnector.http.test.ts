import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { ElicitResultSchema } from "@modelcontextprotocol/sdk/types.js"
import type { JsonRpcMessage, MessageContext } from "@dtma/domain"
import { echoMcpServer, run } from "@dtma/testing"
import { makeSdkMcpConnector } from "../../src/mcp/SdkMcpConnector.ts"
import type { TransportProblem } from "../../src/mcp/transportProblems.ts"
import { FakeDockerApi } from "../docker/FakeDockerApi.ts"

describe("SdkMcpConnector over Streamable HTTP to an in-process server", () => {
  const seen: Array<{ method: string; headers: IncomingHttpHeaders }> = []
  let server: Server
  let port = 0
  beforeAll(async () => {
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => "session-1", enableJsonResponse: true })
    await echoMcpServer().connect(transport)
    server = createServer((req, res) => {
      seen.push({ method: req.method ?? "", headers: req.headers })
      void transport.handleRequest(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    port = typeof address === "object" && address !== null ? address.port : 0
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it("sends the session id and the negotiated protocol version on every request after initialize", async () => {
    const channel = await run(
      makeSdkMcpConnector({ docker: new FakeDockerApi() }).connect(
        { transport: "streamable_http", containerId: "c", endpoint: { hostPort: port, path: "/mcp" } },
        { timeoutMs: 2_000 },
      ),
    )
    const answers: Array<JsonRpcMessage> = []
    channel.onMessage((m) => answers.push(m))
    const params = { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } }
    await run(channel.send({ jsonrpc: "2.0", id: 1, method: "initialize", params }))
    await expect.poll(() => answers.length).toBe(1)
    await run(channel.send({ jsonrpc: "2.0", method: "notifications/initialized" }))
    await run(channel.send({ jsonrpc: "2.0", id: 2, method: "tools/list" }))
    await expect.poll(() => answers.length).toBe(2)
    const posts = seen.filter((s) => s.method === "POST")
    expect(posts[0]?.headers["mcp-protocol-version"]).toBeUndefined()
    expect(posts.slice(1).map((p) => [p.headers["mcp-session-id"], p.headers["mcp-protocol-version"]])).toEqual([
      ["session-1", "2025-06-18"],
      ["session-1", "2025-06-18"],
    ])
    await run(channel.close())
    // Closing ends the server's session.
    expect(seen.at(-1)).toMatchObject({ method: "DELETE", headers: { "mcp-session-id": "session-1" } })
  })
})

describe("SdkMcpConnector reporting what a network server sent that is not JSON", () => {
  it("reports a message that is not JSON without repeating it (the parser's error quotes it, and a server can send its secrets)", async () => {
    const secret = "sk-live-0123456789abcdef"
    const server = createServer((req, res) => {
      if (req.method !== "POST") return void res.writeHead(405).end()
      res.writeHead(200, { "content-type": "text/event-stream" })
      res.end(`event: message\ndata: ${secret} is not json\n\n`)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    const endpoint = { hostPort: typeof address === "object" && address !== null ? address.port : 0, path: "/mcp" }
    const reported: Array<TransportProblem> = []
    const connector = makeSdkMcpConnector({ docker: new FakeDockerApi(), onTransportProblem: (_, problem) => reported.push(problem) })
    const channel = await run(connector.connect({ transport: "streamable_http", containerId: "c", endpoint }, { timeoutMs: 2_000 }))
    await run(channel.send({ jsonrpc: "2.0", id: 1, method: "ping" }))
    await expect.poll(() => reported.length).toBeGreaterThan(0)
    await run(channel.close())
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    expect(reported[0]).toEqual({ kind: "not-json", detail: "the server sent a message that is not JSON", first: true })
    for (const p of reported) expect(JSON.stringify(p)).not.toContain(secret.slice(0, 6))
  })
})

describe("SdkMcpConnector over Streamable HTTP telling which request a server notification was sent about", () => {
  it("gives a notification on a request's own event stream that request's id, one on the standalone stream none, each as sent", async () => {
    const log = (data: string, meta?: Record<string, unknown>) => ({
      method: "notifications/message" as const,
      params: { level: "info" as const, data, ...(meta === undefined ? {} : { _meta: meta }) },
    })
    const forged = { "dtma/request-stream": { nonce: "guessed", request: 1, added: null } }
    const mcp = new McpServer({ name: "logger", version: "1.0.0" }, { capabilities: { logging: {} } })
    mcp.registerTool("log", { description: "Logs about the call and about nothing." }, async (extra) => {
      await extra.sendNotification(log("about the call"))
      await extra.sendNotification(log("about the call, with its own _meta", { "x/y": 1, ...forged }))
      await mcp.server.notification(log("about nothing", forged))
      return { content: [{ type: "text", text: "logged" }] }
    })
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => "session-2" })
    await mcp.connect(transport)
    const gets: Array<string> = []
    const server = createServer((req, res) => {
      if (req.method === "GET" && req.headers.accept?.includes("text/event-stream") === true) gets.push(req.url ?? "")
      void transport.handleRequest(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    const endpoint = { hostPort: typeof address === "object" && address !== null ? address.port : 0, path: "/mcp" }
    const channel = await run(
      makeSdkMcpConnector({ docker: new FakeDockerApi() }).connect({ transport: "streamable_http", containerId: "c", endpoint }, { timeoutMs: 2_000 }),
    )
    const delivered: Array<readonly [JsonRpcMessage, MessageContext]> = []
    channel.onMessage((m, context) => delivered.push([m, context]))
    const params = { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } }
    await run(channel.send({ jsonrpc: "2.0", id: 1, method: "initialize", params }))
    await expect.poll(() => delivered.length).toBe(1)
    await run(channel.send({ jsonrpc: "2.0", method: "notifications/initialized" }))
    await expect.poll(() => gets.length).toBe(1)
    await run(channel.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "log", arguments: {} } }))
    await expect.poll(() => delivered.length).toBe(5)
    await run(channel.close())
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    const notifications = delivered.filter(([m]) => "method" in m)
    expect(channel.separatesRequests).toBe(true)
    expect(notifications.filter(([, c]) => c.relatedRequestId === 2).map(([m]) => m)).toEqual([
      { jsonrpc: "2.0", ...log("about the call") },
      { jsonrpc: "2.0", ...log("about the call, with its own _meta", { "x/y": 1, ...forged }) },
    ])
    expect(notifications.filter(([, c]) => c.relatedRequestId === undefined).map(([m]) => m)).toEqual([{ jsonrpc: "2.0", ...log("about nothing", forged) }])
    expect(delivered.filter(([m]) => "id" in m && m.id === 2)).toEqual([
      [{ jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "logged" }] } }, {}],
    ])
  })

  it("gives a server request on a request's own event stream that request's id, and takes the answer back to the server", async () => {
    const mcp = new McpServer({ name: "asker", version: "1.0.0" })
    mcp.registerTool("ask", { description: "Elicits a name." }, async (extra) => {
      const answer = await extra.sendRequest(
        { method: "elicitation/create", params: { message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } } },
        ElicitResultSchema,
      )
      return { content: [{ type: "text", text: `hello ${String(answer.content?.["name"])}` }] }
    })
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => "session-3" })
    await mcp.connect(transport)
    const server = createServer((req, res) => void transport.handleRequest(req, res))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    const endpoint = { hostPort: typeof address === "object" && address !== null ? address.port : 0, path: "/mcp" }
    const channel = await run(
      makeSdkMcpConnector({ docker: new FakeDockerApi() }).connect({ transport: "streamable_http", containerId: "c", endpoint }, { timeoutMs: 2_000 }),
    )
    const delivered: Array<readonly [JsonRpcMessage, MessageContext]> = []
    channel.onMessage((m, context) => delivered.push([m, context]))
    const params = { protocolVersion: "2025-11-25", capabilities: { elicitation: { form: {} } }, clientInfo: { name: "t", version: "1" } }
    await run(channel.send({ jsonrpc: "2.0", id: 1, method: "initialize", params }))
    await expect.poll(() => delivered.length).toBe(1)
    await run(channel.send({ jsonrpc: "2.0", method: "notifications/initialized" }))
    await run(channel.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "ask", arguments: {} } }))
    await expect.poll(() => delivered.length).toBe(2)
    const [asked, context] = delivered[1]!
    expect(asked).toMatchObject({ jsonrpc: "2.0", method: "elicitation/create", params: { message: "Your name?" } })
    expect(JSON.stringify(asked)).not.toContain("dtma/request-stream")
    expect(context).toEqual({ relatedRequestId: 2 })
    await run(channel.send({ jsonrpc: "2.0", id: (asked as { id: number }).id, result: { action: "accept", content: { name: "Ada" } } }))
    await expect.poll(() => delivered.length).toBe(3)
    expect(delivered[2]![0]).toEqual({ jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "hello Ada" }] } })
    await run(channel.close())
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
})
