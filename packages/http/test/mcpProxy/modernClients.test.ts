import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { ALL, answerOf, ECHO_ONLY, MODERN, openSession, postIn, readStream, startGrantsApp, type GrantsApp } from "../support/grantsSupport.ts"
import { DEFAULT_MCP_CONFIG } from "../../src/composition/mcpConfig.ts"
import { mcpHeaders, proxyClient, sseMessages } from "../support/mcpProxySupport.ts"
import { auditRecords, TOKEN } from "../support/support.ts"

let app: GrantsApp
const clients: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined)
  await app.close()
})

/** The v2 SDK's client with the 2026-07-28 revision pinned, on `url` under `token`. */
const modernClient = async (url: string, token: string = TOKEN): Promise<ModernClient> => {
  const client = new ModernClient({ name: "modern-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN } } })
  await client.connect(new ModernTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  clients.push(client)
  return client
}

/** A hand-made modern request's headers and body. */
const modern = (method: string, params: Record<string, unknown> = {}, extra: { readonly id?: number; readonly meta?: Record<string, unknown> } = {}) => {
  const name = typeof params["name"] === "string" ? params["name"] : typeof params["uri"] === "string" ? params["uri"] : undefined
  return {
    headers: { ...mcpHeaders(), "mcp-protocol-version": MODERN, "mcp-method": method, ...(name === undefined ? {} : { "mcp-name": name }) },
    body: {
      jsonrpc: "2.0",
      id: extra.id ?? 1,
      method,
      params: {
        ...params,
        _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}, ...extra.meta },
      },
    },
  }
}

const post = (url: string, request: ReturnType<typeof modern>, token: string = TOKEN) =>
  fetch(url, { method: "POST", headers: { ...request.headers, authorization: `Bearer ${token}` }, body: JSON.stringify(request.body) })

const endpoints = (): ReadonlyArray<readonly [string, string]> => [
  ["the server's endpoint", app.endpoint("fixture")],
  ["/mcp", `${app.base}/mcp`],
]

describe("a 2026-07-28 client (the v2 SDK, pinned)", () => {
  it.each(["server", "agent"] as const)("lists and calls tools and reads resources on both endpoints, as %s endpoint's caller", async (who) => {
    app = await startGrantsApp()
    const token = who === "server" ? TOKEN : await app.mint(ALL)
    for (const [, url] of endpoints()) {
      const client = await modernClient(url, token)
      expect(client.getProtocolEra()).toBe("modern")
      const tools = (await client.listTools()).tools.map((t) => t.name)
      const echo = url.endsWith("/mcp") && !url.includes("mcp-servers") ? tools.find((t) => t.endsWith("echo"))! : "echo"
      expect(tools).toContain(echo)
      expect(await client.callTool({ name: echo, arguments: { text: "hi" } })).toMatchObject({ content: [{ type: "text", text: "hi" }] })
      const open = (await client.listResources()).resources.find((r) => r.name === "open")!
      expect(await client.readResource({ uri: open.uri })).toMatchObject({ contents: [{ text: "open" }] })
    }
  })

  it("gets results marked complete, naming the server, stale at once and private where they can be cached; no session is minted", async () => {
    app = await startGrantsApp()
    const list = await post(app.endpoint("fixture"), modern("tools/list"))
    expect(list.status).toBe(200)
    expect(list.headers.get("mcp-session-id")).toBeNull()
    expect(await list.json()).toMatchObject({
      id: 1,
      result: {
        resultType: "complete",
        ttlMs: 0,
        cacheScope: "private",
        _meta: { "io.modelcontextprotocol/serverInfo": { name: "grants-fixture", version: "1.0.0" } },
      },
    })
    const call = await answerOf(await post(app.endpoint("fixture"), modern("tools/call", { name: "echo", arguments: { text: "x" } })))
    expect(call["result"]).toMatchObject({ resultType: "complete", _meta: { "io.modelcontextprotocol/serverInfo": { name: "grants-fixture" } } })
    expect(call["result"]).not.toHaveProperty("ttlMs")
    const agent = await answerOf(await post(`${app.base}/mcp`, modern("tools/list"), await app.mint(ALL)))
    expect(agent["result"]).toMatchObject({ cacheScope: "private", _meta: { "io.modelcontextprotocol/serverInfo": { name: "dtma" } } })
  })

  it("sends the server no envelope: its _meta keeps only what a 2025-era server knows", async () => {
    app = await startGrantsApp()
    const call = modern("tools/call", { name: "echo", arguments: { text: "x" } }, { meta: { progressToken: "p1", "io.modelcontextprotocol/logLevel": "info" } })
    await answerOf(await post(app.endpoint("fixture"), call))
    const seen = app.probe.seen.filter((s) => s.method === "tools/call").at(-1)!
    expect(Object.keys(seen.params?.["_meta"] as object).filter((k) => k.startsWith("io.modelcontextprotocol/"))).toEqual([])
  })

  it("answers server/discover with the revisions the DTMA serves and what the server declared, or the DTMA's own on /mcp", async () => {
    app = await startGrantsApp()
    const own = await answerOf(await post(app.endpoint("fixture"), modern("server/discover")))
    expect(own["result"]).toMatchObject({
      resultType: "complete",
      supportedVersions: expect.arrayContaining([MODERN, "2025-11-25"]),
      capabilities: { tools: expect.any(Object), resources: { subscribe: true } },
      ttlMs: 0,
      cacheScope: "private",
    })
    const agent = await answerOf(await post(`${app.base}/mcp`, modern("server/discover"), await app.mint(ALL)))
    expect(agent["result"]).toMatchObject({ capabilities: { tools: { listChanged: true } }, _meta: { "io.modelcontextprotocol/serverInfo": { name: "dtma" } } })
  })

  it("is held to an agent's grants, as a 2025-era client is", async () => {
    app = await startGrantsApp()
    const token = await app.mint(ECHO_ONLY)
    const list = await answerOf(await post(app.endpoint("fixture"), modern("tools/list"), token))
    expect((list["result"] as { tools: Array<{ name: string }> }).tools.map((t) => t.name)).toEqual(["echo"])
    const secret = await answerOf(await post(app.endpoint("fixture"), modern("tools/call", { name: "secret", arguments: {} }), token))
    expect(secret["result"]).toMatchObject({ isError: true, resultType: "complete" })
    expect(app.probe.seen.some((s) => s.method === "tools/call" && s.params?.["name"] === "secret")).toBe(false)
    const read = await post(app.endpoint("fixture"), modern("resources/read", { uri: "test://open" }), token)
    expect((await answerOf(read))["error"]).toMatchObject({ code: -32602 })
  })

  it("refuses a GET or DELETE naming the modern revision with 405, a method the revision removed with 404, and takes a notification with 202", async () => {
    app = await startGrantsApp()
    for (const [, url] of endpoints()) {
      for (const method of ["GET", "DELETE"]) {
        const res = await fetch(url, { method, headers: { ...mcpHeaders(), accept: "text/event-stream", "mcp-protocol-version": MODERN } })
        expect([method, res.status, res.headers.get("allow")]).toEqual([method, 405, "POST"])
      }
      for (const method of ["ping", "logging/setLevel", "resources/subscribe", "initialize"]) {
        const res = await post(url, modern(method))
        expect([method, res.status, ((await res.json()) as { error: { code: number } }).error.code]).toEqual([method, 404, -32601])
      }
      const note = await fetch(url, {
        method: "POST",
        headers: { ...mcpHeaders(), "mcp-protocol-version": MODERN, "mcp-method": "notifications/cancelled" },
        body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1 } }),
      })
      expect(note.status).toBe(202)
    }
  })

  it("cancels its call upstream when the client closes the call's stream", async () => {
    app = await startGrantsApp()
    const abort = new AbortController()
    const call = modern("tools/call", { name: "hold", arguments: { tag: "m" } }, { meta: { progressToken: "p" } })
    const res = await fetch(app.endpoint("fixture"), { method: "POST", headers: call.headers, body: JSON.stringify(call.body), signal: abort.signal })
    expect(res.headers.get("content-type")).toBe("text/event-stream")
    await expect.poll(() => app.probe.held.has("m")).toBe(true)
    abort.abort()
    await expect.poll(() => app.probe.cancelled).toEqual(["m"])
  })

  it("hears the server's log messages about its call only when it asked, at the level it asked", async () => {
    app = await startGrantsApp()
    const log = (meta: Record<string, unknown>) => modern("tools/call", { name: "log", arguments: { text: "said", level: "info" } }, { meta })
    const silent = await post(app.endpoint("fixture"), log({}))
    expect(silent.headers.get("content-type")).toBe("application/json")
    expect(((await silent.json()) as { result: { content: unknown } }).result.content).toEqual([{ type: "text", text: "logged" }])
    const asked = await sseMessages(await post(app.endpoint("fixture"), log({ "io.modelcontextprotocol/logLevel": "info" })))
    expect(asked.map((m) => m["method"] ?? m["id"])).toEqual(["notifications/message", 1])
    const above = await sseMessages(await post(app.endpoint("fixture"), log({ "io.modelcontextprotocol/logLevel": "error" })))
    expect(above.map((m) => m["method"] ?? m["id"])).toEqual([1])
  })
})

describe("a 2026-07-28 request of an agent, on the machinery of 2025-era sessions", () => {
  it("is audited as one call of its own, naming the server and the name it asked for, with no session", async () => {
    app = await startGrantsApp()
    const token = await app.mint(ECHO_ONLY, { sub: "modern-agent" })
    const before = app.auditLog.records.length
    await answerOf(await post(app.endpoint("fixture"), modern("tools/call", { name: "echo", arguments: { text: "x" } }), token))
    await answerOf(await post(app.endpoint("fixture"), modern("tools/call", { name: "secret", arguments: {} }), token))
    const records = (await auditRecords(app.auditLog, before + 2)).slice(before)
    expect(records).toEqual([
      expect.objectContaining({
        caller: expect.objectContaining({ sub: "modern-agent" }),
        server: "fixture",
        method: "tools/call",
        name: "echo",
        outcome: "ok",
      }),
      expect.objectContaining({ method: "tools/call", name: "secret", outcome: "denied", errorCode: "insufficient_scope" }),
    ])
    expect(records.map((r) => r.sessionId)).toEqual([null, null])
  })

  it("is cut when its agent is revoked: a call in flight is answered so and cancelled upstream, a listen ends with the same answer", async () => {
    app = await startGrantsApp()
    const token = await app.mint(ALL)
    const call = readStream(
      await post(app.endpoint("fixture"), modern("tools/call", { name: "hold", arguments: { tag: "r" } }, { meta: { progressToken: 1 } }), token),
    )
    const listen = readStream(
      await post(app.endpoint("fixture"), modern("subscriptions/listen", { notifications: { toolsListChanged: true } }, { id: 2 }), token),
    )
    await expect.poll(() => app.probe.held.has("r")).toBe(true)
    await expect.poll(() => listen.messages.length).toBe(1)
    await Effect.runPromise(app.agentAccess.access.revokeAgent("agent-1"))
    await Promise.all([call.ended, listen.ended])
    expect(call.messages).toEqual([expect.objectContaining({ id: 1, error: expect.objectContaining({ data: { error: "invalid_token" } }) })])
    expect(listen.messages[1]).toEqual(expect.objectContaining({ id: 2, error: expect.objectContaining({ data: { error: "invalid_token" } }) }))
    await expect.poll(() => app.probe.cancelled).toEqual(["r"])
    const after = await post(app.endpoint("fixture"), modern("tools/list"), token)
    expect(after.status).toBe(401)
  })

  it("is refused as a whole when the server is saturated, in a code the revision keeps (not -32002)", async () => {
    app = await startGrantsApp({ config: { mcp: { ...DEFAULT_MCP_CONFIG, maxInFlight: 1, maxQueued: 0, pingBaseMs: 600_000, pingMaxMs: 600_000 } } })
    const held = post(app.endpoint("fixture"), modern("tools/call", { name: "hold", arguments: { tag: "b" } }))
    await expect.poll(() => app.probe.held.has("b")).toBe(true)
    const busy = await post(app.endpoint("fixture"), modern("tools/call", { name: "echo", arguments: { text: "x" } }, { id: 9 }))
    expect(busy.status).toBe(429)
    expect(((await busy.json()) as { error: { code: number; data: unknown } }).error).toMatchObject({ code: -32603, data: { state: "busy" } })
    app.probe.held.get("b")?.()
    await held
  })
})

describe("a 2025-era client on the same URL at the same time", () => {
  it("is unaffected: its session, its calls and its notification stream go on beside modern requests", async () => {
    app = await startGrantsApp()
    for (const [, url] of endpoints()) {
      const legacy = await proxyClient(url)
      clients.push(legacy.client)
      const fresh = await modernClient(url)
      const [a, b] = await Promise.all([legacy.client.listTools(), fresh.listTools()])
      // The 2025-era SDK client gets one page; the v2 one follows the cursors.
      expect(b.tools.map((t) => t.name).slice(0, a.tools.length)).toEqual(a.tools.map((t) => t.name))
      expect(legacy.transport.sessionId).toEqual(expect.any(String))
      expect(await legacy.client.ping()).toEqual({})
    }
    // A raw 2025 session on the same endpoint still gets its session id, and its GET stream.
    const session = await openSession(app.endpoint("fixture"), TOKEN)
    const stream = readStream(
      await fetch(app.endpoint("fixture"), {
        method: "GET",
        headers: { ...mcpHeaders(session), accept: "text/event-stream", "mcp-protocol-version": "2025-11-25" },
      }),
    )
    expect(stream.status).toBe(200)
    expect(await answerOf(await postIn(app.endpoint("fixture"), session, TOKEN, { jsonrpc: "2.0", id: 5, method: "ping" }))).toMatchObject({ id: 5 })
  })
})
