import { once } from "node:events"
import type { AddressInfo } from "node:net"
import { Router } from "@koa/router"
import { Effect } from "effect"
import Koa from "koa"
import { afterEach, describe, expect, it } from "vitest"
import { LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { operatorOf } from "../../src/server/caller.ts"
import { requestStateOf } from "../../src/server/requestState.ts"
import { jsonBody } from "../../src/server/jsonBody.ts"
import { makeMcpProxy } from "../../src/mcpProxy/McpProxy.ts"
import { mountMcpProxy } from "../../src/mcpProxy/mountMcpProxy.ts"
import type { McpProxySettings } from "../../src/mcpProxy/settings.ts"
import { eventually, mcpHeaders, proxyClient, sseMessages, startProxyApp, type ProxyApp, type ProxyClient } from "../support/mcpProxySupport.ts"
import { capturingLogger, TEST_ACCESS, TOKEN } from "../support/support.ts"

const initialize = (protocolVersion: string) =>
  JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion, capabilities: {}, clientInfo: { name: "raw", version: "1" } } })

/** The proxy alone on a Koa app (every request the operator's), with settings the DTMA's configuration does not expose. */
const bareProxy = async (app: ProxyApp, settings: Partial<McpProxySettings>) => {
  const router = new Router()
  const deps = { mcpServers: app.mcpServers, logger: capturingLogger().logger, access: app.agentAccess.access, resourceUrl: TEST_ACCESS.resourceUrl, settings }
  const proxy = mountMcpProxy(router, makeMcpProxy(deps))
  const koa = new Koa()
  koa.use((ctx, next) => {
    requestStateOf(ctx).caller = operatorOf(TOKEN)
    return next()
  })
  koa.use(jsonBody())
  koa.use(router.routes())
  const server = koa.listen(0, "127.0.0.1")
  await once(server, "listening")
  return {
    proxy,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp-servers/fixture/mcp`,
    close: async () => {
      proxy.close()
      server.closeAllConnections()
      server.close()
      await once(server, "close")
    },
  }
}

describe("client sessions of the proxied MCP endpoint", () => {
  let app: ProxyApp
  const clients: Array<ProxyClient> = []
  const connect = async (url = app.endpoint()) => {
    const c = await proxyClient(url)
    clients.push(c)
    await c.streamOpen
    return c
  }
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.client.close()
    await app.close()
  })

  it("answers initialize with the client's protocol version when the DTMA speaks it, else the server's", async () => {
    app = await startProxyApp()
    for (const [asked, answered] of [
      ["2025-06-18", "2025-06-18"],
      ["2024-11-05", "2024-11-05"],
      ["2099-01-01", "2025-11-25"],
    ]) {
      const res = await fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(), body: initialize(asked!) })
      expect(res.headers.get("mcp-session-id")).toMatch(/^[0-9a-f-]{36}$/)
      const [answer] = await sseMessages(res)
      expect(answer).toMatchObject({
        id: 1,
        result: { protocolVersion: answered, serverInfo: { name: "fixture", version: "3.1.4" }, instructions: "Use the echo tool." },
      })
    }
    expect(app.probe.connections).toBe(1)
  })

  it("answers a request that asked for no progress with one JSON body, and one that asked for progress with an event stream", async () => {
    app = await startProxyApp()
    const { transport } = await connect()
    const headers = { ...mcpHeaders(transport.sessionId), "mcp-protocol-version": "2025-11-25" }
    const post = (body: unknown) => fetch(app.endpoint(), { method: "POST", headers, body: JSON.stringify(body) })
    const plain = await post({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "echo", arguments: { text: "hi" } } })
    expect(plain.headers.get("content-type")).toBe("application/json")
    expect(plain.headers.get("mcp-session-id")).toBe(transport.sessionId)
    expect(await plain.json()).toMatchObject({ jsonrpc: "2.0", id: 7, result: { content: [{ type: "text", text: "hi" }] } })
    const counted = await post({
      jsonrpc: "2.0",
      id: 8,
      method: "tools/call",
      params: { name: "count", arguments: { tag: "t", steps: 2 }, _meta: { progressToken: "p" } },
    })
    expect(counted.headers.get("content-type")).toBe("text/event-stream")
    expect((await sseMessages(counted)).map((m) => m["method"] ?? m["id"])).toEqual(["notifications/progress", "notifications/progress", 8])
  })

  it("ends a JSON-answered request its client cancels with a bodiless 202, cancelling it upstream", async () => {
    app = await startProxyApp()
    const { transport } = await connect()
    const headers = { ...mcpHeaders(transport.sessionId), "mcp-protocol-version": "2025-11-25" }
    const post = (body: unknown) => fetch(app.endpoint(), { method: "POST", headers, body: JSON.stringify(body) })
    const waiting = post({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "wait", arguments: { tag: "json" } } })
    await eventually(() => expect(app.probe.waiting).toContain("json"))
    expect((await post({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 9 } })).status).toBe(202)
    const answer = await waiting
    expect([answer.status, await answer.text()]).toEqual([202, ""])
    await eventually(() => expect(app.probe.cancelled).toEqual(["json"]))
  })

  it("sends a resource update only to the sessions subscribed to it, subscribing upstream once per uri", async () => {
    app = await startProxyApp()
    const [a, b, c] = [await connect(), await connect(), await connect()]
    const updates = { a: [] as Array<string>, b: [] as Array<string>, c: [] as Array<string> }
    for (const [who, client] of [
      ["a", a],
      ["b", b],
      ["c", c],
    ] as const) {
      client.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates[who].push(n.params.uri))
    }
    await a.client.subscribeResource({ uri: "test://a" })
    await b.client.subscribeResource({ uri: "test://a" })
    await c.client.subscribeResource({ uri: "test://b" })
    expect(app.probe.subscribed).toEqual(["test://a", "test://b"])

    await c.client.callTool({ name: "touch", arguments: { uri: "test://a" } })
    await eventually(() => expect(updates).toEqual({ a: ["test://a"], b: ["test://a"], c: [] }))

    await a.client.unsubscribeResource({ uri: "test://a" })
    expect(app.probe.unsubscribed).toEqual([])
    await b.client.unsubscribeResource({ uri: "test://a" })
    expect(app.probe.unsubscribed).toEqual(["test://a"])
  })

  it("sends a log message the server wrote during a request only to the session that made the request", async () => {
    app = await startProxyApp()
    const [a, b] = [await connect(), await connect()]
    const logs = { a: [] as Array<unknown>, b: [] as Array<unknown> }
    a.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.a.push(n.params.data))
    b.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.b.push(n.params.data))
    await a.client.callTool({ name: "log", arguments: { text: "from a" } })
    await b.client.callTool({ name: "log", arguments: { text: "from b" } })
    await eventually(() => expect(logs).toEqual({ a: ["from a"], b: ["from b"] }))
  })

  it("answers a request that outlasts the timeout with a JSON-RPC RequestTimeout error and cancels it upstream", async () => {
    app = await startProxyApp({ requestTimeoutMs: 200 })
    const { client } = await connect()
    await expect(client.callTool({ name: "wait", arguments: { tag: "late" } })).rejects.toMatchObject({ code: -32001 })
    await eventually(() => expect(app.probe.cancelled).toEqual(["late"]))
  })

  it("ends a session on DELETE: its requests are cancelled upstream, its subscriptions dropped, its id forgotten", async () => {
    app = await startProxyApp()
    const [a, b] = [await connect(), await connect()]
    await a.client.subscribeResource({ uri: "test://a" })
    const pending = a.client.callTool({ name: "wait", arguments: { tag: "a-pending" } }).catch((e: unknown) => e)
    await eventually(() => expect(app.probe.waiting).toContain("a-pending"))
    const sessionId = a.transport.sessionId
    await a.transport.terminateSession()
    await eventually(() => expect(app.probe.cancelled).toEqual(["a-pending"]))
    await eventually(() => expect(app.probe.unsubscribed).toEqual(["test://a"]))
    const again = await fetch(app.endpoint(), {
      method: "POST",
      headers: mcpHeaders(sessionId),
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    })
    expect(again.status).toBe(404)
    expect(await again.json()).toMatchObject({ error: { code: -32001, message: "Session not found" } })
    expect((await b.client.listTools()).tools.length).toBeGreaterThan(0)
    await a.client.close()
    await pending
  })

  it("forgets an idle session, but not one whose client holds its notification stream open", async () => {
    app = await startProxyApp()
    const bare = await bareProxy(app, { idleTimeoutMs: 150 })
    const raw = await fetch(bare.url, { method: "POST", headers: mcpHeaders(), body: initialize("2025-11-25") })
    const rawSession = raw.headers.get("mcp-session-id")!
    await raw.text()
    const listening = await connect(bare.url)
    expect(bare.proxy.sessionCount("fixture")).toBe(2)

    await eventually(() => expect(bare.proxy.sessionCount("fixture")).toBe(1))
    const late = await fetch(bare.url, { method: "POST", headers: mcpHeaders(rawSession), body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }) })
    expect(late.status).toBe(404)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect((await listening.client.listTools()).tools.length).toBeGreaterThan(0)
    await bare.close()
  })

  it("forgets a session whose client went away once its last request ended, cancelling that request upstream", async () => {
    app = await startProxyApp({ requestTimeoutMs: 300 })
    const bare = await bareProxy(app, { idleTimeoutMs: 100, requestTimeoutMs: 300 })
    const gone = await proxyClient(bare.url)
    await gone.streamOpen
    void gone.client.callTool({ name: "wait", arguments: { tag: "orphan" } }).catch(() => undefined)
    await eventually(() => expect(app.probe.waiting).toContain("orphan"))
    await gone.client.close()
    await eventually(() => expect(bare.proxy.sessionCount()).toBe(0))
    expect(app.probe.cancelled).toEqual(["orphan"])
    await bare.close()
  })

  it("cancels upstream at shutdown the calls in flight of 2025-era sessions and of 2026-07-28 clients alike", async () => {
    app = await startProxyApp()
    const bare = await bareProxy(app, {})
    const legacy = await proxyClient(bare.url)
    await legacy.streamOpen
    void legacy.client.callTool({ name: "wait", arguments: { tag: "legacy" } }).catch(() => undefined)
    const modern = fetch(bare.url, {
      method: "POST",
      headers: { ...mcpHeaders(), "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "wait" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: {
          name: "wait",
          arguments: { tag: "modern" },
          _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} },
        },
      }),
    }).catch(() => undefined)
    await eventually(() => expect([...app.probe.waiting].sort()).toEqual(["legacy", "modern"]))
    bare.proxy.close()
    await eventually(() => expect([...app.probe.cancelled].sort()).toEqual(["legacy", "modern"]))
    await legacy.client.close()
    await bare.close()
    await modern
  })

  it("subscribes a restarted server again to the resources its client sessions still want", async () => {
    app = await startProxyApp()
    const a = await connect()
    const updates: Array<string> = []
    a.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri))
    await a.client.subscribeResource({ uri: "test://a" })
    await Effect.runPromise(app.mcpServers.restart("fixture"))
    await a.client.callTool({ name: "touch", arguments: { uri: "test://a" } })
    expect(app.probe.subscribed).toEqual(["test://a", "test://a"])
    await eventually(() => expect(updates).toEqual(["test://a"]))
  })
})
