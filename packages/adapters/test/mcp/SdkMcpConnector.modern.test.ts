import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server"
import { Effect } from "effect"
import * as z from "zod"
import { discover, openUpstreamSession } from "@dtma/domain"
import { run } from "@dtma/testing"
import { makeSdkMcpConnector } from "../../src/mcp/SdkMcpConnector.ts"
import { FakeDockerApi } from "../docker/FakeDockerApi.ts"
import { v2UpstreamOptions } from "./upstreamOptions.ts"

// A server that speaks only 2026-07-28, served by the v2 SDK (`createMcpHandler`, `legacy: "reject"`)
// on a real HTTP port: the DTMA's Streamable HTTP connector and upstream session against it.

/** The tools every instance of the server registers (the handler makes one per request): a test may add one. */
const toolNames = ["échо"]
const modernServer = () => {
  const server = new McpServer({ name: "v2-modern", version: "2.3.1" }, { capabilities: { tools: { listChanged: true } } })
  for (const name of toolNames)
    server.registerTool(name, { description: "echo", inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({ content: [{ type: "text", text }] }))
  // Its region is mirrored in an Mcp-Param-Region header, which the SDK's handler checks against the body.
  const region = z.string().meta({ "x-mcp-header": "Region" })
  server.registerTool("regional", { description: "region", inputSchema: z.object({ region }) }, async (args) => ({
    content: [{ type: "text", text: `in ${args.region}` }],
  }))
  return server
}

/** Resolves once `check` holds, polling; fails after 3 s. */
const until = async (check: () => boolean): Promise<void> => {
  for (const started = Date.now(); !check(); await new Promise((r) => setTimeout(r, 10))) if (Date.now() - started > 3_000) throw new Error("timed out waiting")
}

const bodyOf = async (req: IncomingMessage): Promise<string> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString("utf8")
}

describe("SdkMcpConnector and the upstream session, to a 2026-07-28-only server over Streamable HTTP", () => {
  const seen: Array<{ method: string; headers: IncomingHttpHeaders; status: number }> = []
  const handler = createMcpHandler(modernServer, { legacy: "reject" })
  let server: Server
  let port = 0
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const body = req.method === "POST" ? await bodyOf(req) : undefined
      const headers = Object.entries(req.headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)] as [string, string]]))
      const response = await handler.fetch(new Request(`http://127.0.0.1${req.url}`, { method: req.method ?? "GET", headers, body: body ?? null }))
      seen.push({ method: req.method ?? "", headers: req.headers, status: response.status })
      res.writeHead(response.status, Object.fromEntries(response.headers))
      // Streamed: a subscriptions/listen answer is an SSE stream that stays open.
      if (response.body !== null) for await (const chunk of response.body) res.write(chunk)
      res.end()
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const address = server.address()
    port = typeof address === "object" && address !== null ? address.port : 0
  })
  afterAll(async () => {
    await handler.close?.()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  const options = v2UpstreamOptions
  /** An upstream session to the server, through the DTMA's Streamable HTTP connector. */
  const connected = () =>
    makeSdkMcpConnector({ docker: new FakeDockerApi() })
      .connect({ transport: "streamable_http", containerId: "c", endpoint: { hostPort: port, path: "/mcp" } }, { timeoutMs: 2_000 })
      .pipe(Effect.flatMap((channel) => openUpstreamSession(channel, options)))

  it("opens it on the 2026-07-28 wire, lists its tools and calls one, with the headers the revision requires", async () => {
    const result = await run(
      Effect.scoped(
        Effect.gen(function* () {
          const session = yield* connected()
          const snapshot = yield* discover(session, { timeoutMs: 2_000, now: "2026-12-02T00:00:00.000Z" })
          const call = { jsonrpc: "2.0" as const, id: 5, method: "tools/call", params: { name: "échо", arguments: { text: "hi" } } }
          const echoed = yield* session.forward("s", call, { timeoutMs: 2_000 })
          const missing = yield* session.forward("s", { ...call, id: 6, params: { name: "nope", arguments: {} } }, { timeoutMs: 2_000 })
          const health = yield* session.call("server/discover", {}, 2_000)
          return { hello: session.hello, snapshot, echoed, missing, health, open: session.isOpen() }
        }),
      ),
    )
    expect(result.hello).toMatchObject({ protocolVersion: "2026-07-28", serverInfo: { name: "v2-modern", version: "2.3.1" } })
    expect(result.snapshot.tools.map((t) => t["name"])).toEqual(["échо", "regional"])
    expect(result.echoed).toEqual({ jsonrpc: "2.0", id: 5, result: { content: [{ type: "text", text: "hi" }] } })
    expect(result.missing).toMatchObject({ id: 6, error: { code: -32602 } })
    expect(result.health).toMatchObject({ supportedVersions: ["2026-07-28"] })
    expect(result.open).toBe(true)
    const posts = seen.filter((s) => s.method === "POST")
    expect(posts[0]).toMatchObject({ status: 400 })
    const call = posts.find((p) => p.headers["mcp-method"] === "tools/call")
    expect(call?.headers).toMatchObject({ "mcp-protocol-version": "2026-07-28", "mcp-name": `=?base64?${Buffer.from("échо").toString("base64")}?=` })
    expect(posts.slice(1).every((p) => p.headers["mcp-session-id"] === undefined && p.headers["mcp-protocol-version"] === "2026-07-28")).toBe(true)
  })

  it("keeps a subscriptions/listen open for the tool list changes it announces, and hears them as list_changed", async () => {
    const listens = () => seen.filter((s) => s.headers["mcp-method"] === "subscriptions/listen" && s.status === 200).length
    const listensBefore = listens()
    const heard = await run(
      Effect.scoped(
        Effect.gen(function* () {
          const session = yield* connected()
          const notes: Array<unknown> = []
          session.subscribe((n) => notes.push(n))
          // This session's own listen (the first test's, closed, counts too): changes published before it opens are not sent.
          yield* Effect.promise(() => until(() => listens() > listensBefore))
          toolNames.push("added")
          handler.notify.toolsChanged()
          yield* Effect.promise(() => until(() => notes.length > 0))
          const snapshot = yield* discover(session, { timeoutMs: 2_000, now: "2026-12-02T00:00:00.000Z" })
          return { notes, tools: snapshot.tools.map((t) => t["name"]) }
        }),
      ),
    )
    expect(heard.notes).toEqual([{ jsonrpc: "2.0", method: "notifications/tools/list_changed", params: {} }])
    expect(heard.tools).toEqual(["échо", "added", "regional"])
  })

  it("sends a call the Mcp-Param headers its tool's listing asks for, which the SDK's handler checks", async () => {
    const answers = await run(
      Effect.scoped(
        Effect.gen(function* () {
          const session = yield* connected()
          const snapshot = yield* discover(session, { timeoutMs: 2_000, now: "2026-12-02T00:00:00.000Z" })
          const call = (id: number, region: string) => ({
            jsonrpc: "2.0" as const,
            id,
            method: "tools/call",
            params: { name: "regional", arguments: { region } },
          })
          const plain = yield* session.forward("s", call(7, "eu-west1"), { timeoutMs: 2_000 })
          const encoded = yield* session.forward("s", call(8, " Zürich "), { timeoutMs: 2_000 })
          return { listed: snapshot.tools.find((t) => t["name"] === "regional"), plain, encoded }
        }),
      ),
    )
    expect(answers.listed).toMatchObject({ inputSchema: { properties: { region: { "x-mcp-header": "Region" } } } })
    expect(answers.plain).toEqual({ jsonrpc: "2.0", id: 7, result: { content: [{ type: "text", text: "in eu-west1" }] } })
    expect(answers.encoded).toEqual({ jsonrpc: "2.0", id: 8, result: { content: [{ type: "text", text: "in  Zürich " }] } })
    const regional = seen.filter((s) => s.headers["mcp-name"] === "regional")
    expect(regional.map((s) => s.headers["mcp-param-region"])).toEqual(["eu-west1", `=?base64?${Buffer.from(" Zürich ").toString("base64")}?=`])
  })
})
