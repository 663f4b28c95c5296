import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Effect } from "effect"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { directClient, eventually, mcpHeaders, proxyClient, startProxyApp, type ProxyApp, type ProxyClient } from "../support/mcpProxySupport.ts"
import { OTHER_TOKEN } from "../support/support.ts"

const textOf = (result: unknown): string => (result as { content: Array<{ text: string }> }).content[0]?.text ?? ""

describe("the proxied MCP endpoint, for an SDK client", () => {
  let app: ProxyApp
  const clients: Array<ProxyClient> = []
  const connect = async () => {
    const c = await proxyClient(app.endpoint())
    clients.push(c)
    return c
  }
  beforeEach(async () => {
    app = await startProxyApp()
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.client.close()
    await app.close()
  })

  it("lists the same tools, resources and server description as the server itself", async () => {
    const direct = await directClient(app.probe)
    const { client } = await connect()
    expect(await client.listTools()).toEqual(await direct.listTools())
    expect(await client.listResources()).toEqual(await direct.listResources())
    expect(client.getServerVersion()).toEqual(direct.getServerVersion())
    expect(client.getServerCapabilities()).toEqual(direct.getServerCapabilities())
    expect(client.getInstructions()).toBe("Use the echo tool.")
    await direct.close()
  })

  it("calls tools and gets the same results as a direct client", async () => {
    const direct = await directClient(app.probe)
    const { client } = await connect()
    for (const call of [
      { name: "echo", arguments: { text: "hello" } },
      { name: "add", arguments: { a: 2, b: 40 } },
      { name: "missing", arguments: {} },
    ]) {
      expect(await client.callTool(call)).toEqual(await direct.callTool(call))
    }
    await direct.close()
  })

  it("answers initialize and ping itself, without a second upstream connection or handshake", async () => {
    await connect()
    const { client } = await connect()
    await client.ping()
    expect(app.connector.connects).toHaveLength(1)
    expect(app.probe.connections).toBe(1)
  })

  it("delivers progress notifications to the client whose request they belong to, and only to it", async () => {
    const [a, b] = [await connect(), await connect()]
    const seen = { a: [] as Array<string>, b: [] as Array<string> }
    const [ra, rb] = await Promise.all([
      a.client.callTool({ name: "count", arguments: { tag: "a", steps: 3 } }, undefined, { onprogress: (p) => void seen.a.push(String(p.message)) }),
      b.client.callTool({ name: "count", arguments: { tag: "b", steps: 5 } }, undefined, { onprogress: (p) => void seen.b.push(String(p.message)) }),
    ])
    expect([textOf(ra), textOf(rb)]).toEqual(["a done", "b done"])
    expect(seen).toEqual({ a: ["a-1", "a-2", "a-3"], b: ["b-1", "b-2", "b-3", "b-4", "b-5"] })
    expect(a.requestIds).toEqual(b.requestIds)
  })

  it("gives two clients that use the same request ids each their own answers", async () => {
    const [a, b] = [await connect(), await connect()]
    const calls = (c: Client, who: string) =>
      Promise.all(Array.from({ length: 20 }, (_, i) => c.callTool({ name: "echo", arguments: { text: `${who}-${i}` } })))
    const [fromA, fromB] = await Promise.all([calls(a.client, "a"), calls(b.client, "b")])
    expect(fromA.map(textOf)).toEqual(Array.from({ length: 20 }, (_, i) => `a-${i}`))
    expect(fromB.map(textOf)).toEqual(Array.from({ length: 20 }, (_, i) => `b-${i}`))
    expect(new Set(a.requestIds)).toEqual(new Set(b.requestIds))
  })

  it("passes a tool list change on to every client session", async () => {
    const [a, b] = [await connect(), await connect()]
    const changes = { a: 0, b: 0 }
    a.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes.a++)
    b.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes.b++)
    await Promise.all([a.streamOpen, b.streamOpen])
    expect(textOf(await a.client.callTool({ name: "add-tool", arguments: {} }))).toBe("extra-1")
    await eventually(() => expect(changes).toEqual({ a: 1, b: 1 }))
    expect((await b.client.listTools()).tools.map((t) => t.name)).toContain("extra-1")
  })

  it("cancels the request upstream when the client cancels it", async () => {
    const { client } = await connect()
    const abort = new AbortController()
    const call = client.callTool({ name: "wait", arguments: { tag: "w1" } }, undefined, { signal: abort.signal })
    await eventually(() => expect(app.probe.waiting).toContain("w1"))
    abort.abort("changed my mind")
    await expect(call).rejects.toThrow("changed my mind")
    await eventually(() => expect(app.probe.cancelled).toEqual(["w1"]))
    const session = await Effect.runPromise(app.mcpServers.session("fixture"))
    await eventually(() => expect(session.load()).toBe(0))
  })
})

describe("the proxied MCP endpoint, refusing", () => {
  let app: ProxyApp
  afterEach(() => app.close())

  it("answers HTTP 429 with a JSON-RPC error when the server is saturated", async () => {
    app = await startProxyApp({ maxInFlight: 1, maxQueued: 0 })
    const [holder, other] = [await proxyClient(app.endpoint()), await proxyClient(app.endpoint())]
    const abort = new AbortController()
    const held = holder.client.callTool({ name: "wait", arguments: { tag: "slot" } }, undefined, { signal: abort.signal }).catch(() => "cancelled")
    await eventually(() => expect(app.probe.waiting).toContain("slot"))

    const res = await fetch(app.endpoint(), {
      method: "POST",
      headers: mcpHeaders(other.transport.sessionId),
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } }),
    })
    expect(res.status).toBe(429)
    expect(res.headers.get("retry-after")).toBe("1")
    expect(await res.json()).toEqual({ jsonrpc: "2.0", id: 7, error: { code: -32002, message: expect.stringContaining("saturated") } })
    await expect(other.client.callTool({ name: "echo", arguments: { text: "y" } })).rejects.toMatchObject({
      code: 429,
      message: expect.stringContaining("-32002"),
    })

    abort.abort()
    await held
    await eventually(async () => expect(textOf(await other.client.callTool({ name: "echo", arguments: { text: "z" } }))).toBe("z"))
    await Promise.all([holder.client.close(), other.client.close()])
  })

  it("answers 401 with a challenge naming its resource metadata without a token, 401 invalid_token with a wrong one", async () => {
    app = await startProxyApp()
    const init = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    }
    const headers = mcpHeaders()
    const { authorization: _, ...anonymous } = headers
    const metadata = "http://127.0.0.1:30000/.well-known/oauth-protected-resource/mcp-servers/fixture/mcp"
    const none = await fetch(app.endpoint(), { method: "POST", headers: anonymous, body: JSON.stringify(init) })
    expect(none.status).toBe(401)
    expect(none.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${metadata}"`)
    expect(await none.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32010, data: { error: "unauthorized" } } })
    const wrong = await fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(undefined, "not-a-token"), body: JSON.stringify(init) })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get("www-authenticate")).toMatch(
      new RegExp(`^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="${metadata}"$`),
    )
    expect(await wrong.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32010, data: { error: "invalid_token" } } })
    expect((await fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(undefined, OTHER_TOKEN), body: JSON.stringify(init) })).status).toBe(200)
  })

  it("answers 404 with a JSON-RPC error for a server it does not manage", async () => {
    app = await startProxyApp()
    const res = await fetch(app.endpoint("nobody"), {
      method: "POST",
      headers: mcpHeaders(),
      body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list" }),
    })
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ jsonrpc: "2.0", id: 3, error: { code: -32600, message: "No MCP server named 'nobody' is managed by this DTMA." } })
    await expect(proxyClient(app.endpoint("nobody"))).rejects.toMatchObject({ code: 404 })
  })

  it("answers 503 with a JSON-RPC error while the server is stopped", async () => {
    app = await startProxyApp()
    const { client, transport } = await proxyClient(app.endpoint())
    await Effect.runPromise(app.mcpServers.stop("fixture"))
    const res = await fetch(app.endpoint(), {
      method: "POST",
      headers: mcpHeaders(transport.sessionId),
      body: JSON.stringify({ jsonrpc: "2.0", id: 4, method: "tools/list" }),
    })
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: 4, error: { code: -32000, message: expect.stringContaining("fixture") } })
    await client.close()
  })
})
