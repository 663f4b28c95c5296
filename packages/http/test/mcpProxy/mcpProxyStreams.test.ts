import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { eventually, mcpHeaders, sseMessages, startProxyApp, type ProxyApp } from "../support/mcpProxySupport.ts"

const initialize = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
}
const echo = (id: number | string, text: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text } } })
const count = (id: number, tag: string, steps: number) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "count", arguments: { tag, steps }, _meta: { progressToken: `p-${id}` } },
})
const textOf = (m: unknown) => (m as { result?: { content: Array<{ text: string }> } }).result?.content[0]?.text

/** The Streamable HTTP exchanges of one client session, made by hand. */
const rawSession = async (endpoint: string) => {
  const opened = await fetch(endpoint, { method: "POST", headers: mcpHeaders(), body: JSON.stringify(initialize) })
  expect(opened.status).toBe(200)
  const sessionId = opened.headers.get("mcp-session-id")!
  await opened.text()
  const headers: Record<string, string> = { ...mcpHeaders(sessionId), "mcp-protocol-version": "2025-11-25" }
  return {
    sessionId,
    headers,
    post: (body: unknown, extra: Record<string, string> = {}) =>
      fetch(endpoint, { method: "POST", headers: { ...headers, ...extra }, body: JSON.stringify(body) }),
    get: () => fetch(endpoint, { method: "GET", headers: { ...headers, accept: "text/event-stream" } }),
    del: () => fetch(endpoint, { method: "DELETE", headers }),
  }
}

describe("the proxied MCP endpoint's answers", () => {
  let app: ProxyApp
  beforeEach(async () => {
    app = await startProxyApp()
  })
  afterEach(() => app.close())

  it("answers a batch of requests that asked for no progress with one JSON array, in the order posted, with its length", async () => {
    const { post } = await rawSession(app.endpoint())
    const res = await post([echo(1, "one"), { jsonrpc: "2.0", id: 2, method: "ping" }, echo("three", "three")])
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toBe("application/json")
    const text = await res.text()
    expect(Number(res.headers.get("content-length"))).toBe(Buffer.byteLength(text))
    const answers = JSON.parse(text) as Array<Record<string, unknown>>
    expect(answers.map((a) => a["id"])).toEqual([1, 2, "three"])
    expect([textOf(answers[0]), answers[1]!["result"], textOf(answers[2])]).toEqual(["one", {}, "three"])
  })

  it("streams a batch where one request asks for progress: each message one event, progress before its answer, closed after the last answer", async () => {
    const { post } = await rawSession(app.endpoint())
    const res = await post([count(1, "a", 2), echo(2, "plain")])
    expect(res.headers.get("content-type")).toBe("text/event-stream")
    const text = await res.text()
    const events = text.split("\n\n").filter((e) => e !== "")
    for (const event of events) expect(event).toMatch(/^event: message\ndata: \{.*\}$/)
    const messages = events.map((e) => JSON.parse(e.slice(e.indexOf("data: ") + 6)) as Record<string, unknown>)
    expect(messages.filter((m) => m["method"] === "notifications/progress").map((m) => (m["params"] as { progressToken: unknown }).progressToken)).toEqual([
      "p-1",
      "p-1",
    ])
    expect(messages.findIndex((m) => m["id"] === 1)).toBeGreaterThan(messages.findLastIndex((m) => m["method"] === "notifications/progress"))
    expect(
      messages
        .filter((m) => "id" in m)
        .map(textOf)
        .sort(),
    ).toEqual(["a done", "plain"])
  })

  it("answers initialize as an event stream carrying the new session's id", async () => {
    const res = await fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(), body: JSON.stringify(initialize) })
    expect(res.headers.get("content-type")).toBe("text/event-stream")
    const text = await res.text()
    expect(text).toMatch(/^event: message\ndata: \{"jsonrpc":"2\.0","id":1,"result":\{.*\}\}\n\n$/)
    expect(res.headers.get("mcp-session-id")).toMatch(/^[0-9a-f-]{36}$/)
  })

  it("answers a POST of notifications only with a bodiless 202", async () => {
    const { post } = await rawSession(app.endpoint())
    const res = await post([
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", method: "notifications/roots/list_changed" },
    ])
    expect([res.status, await res.text()]).toEqual([202, ""])
  })

  it("cancels one request of a streamed POST and still answers the others, closing the stream after them", async () => {
    const { post } = await rawSession(app.endpoint())
    const streamed = post([
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "wait", arguments: { tag: "w" }, _meta: { progressToken: "p" } } },
      echo(2, "kept"),
    ])
    await eventually(() => expect(app.probe.waiting).toContain("w"))
    expect((await post({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1 } })).status).toBe(202)
    const messages = await sseMessages(await streamed)
    expect(messages.map((m) => m["id"])).toEqual([2])
    await eventually(() => expect(app.probe.cancelled).toEqual(["w"]))
  })
})

describe("the proxied MCP endpoint's notification stream and session end", () => {
  let app: ProxyApp
  beforeEach(async () => {
    app = await startProxyApp()
  })
  afterEach(() => app.close())

  it("refuses a second notification stream of a session with 409 while the first is open, and opens one again after it closed", async () => {
    const session = await rawSession(app.endpoint())
    const first = await session.get()
    expect([first.status, first.headers.get("content-type"), first.headers.get("mcp-session-id")]).toEqual([200, "text/event-stream", session.sessionId])
    const second = await session.get()
    expect(second.status).toBe(409)
    expect(await second.json()).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32000, message: "Conflict: Only one SSE stream is allowed per session" } })
    await first.body!.cancel()
    await eventually(async () => {
      const again = await session.get()
      expect(again.status).toBe(200)
      await again.body!.cancel()
    })
  })

  it("writes server notifications to the notification stream as events", async () => {
    const session = await rawSession(app.endpoint())
    const stream = await session.get()
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader()
    await session.post({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "log", arguments: { text: "to the stream" } } })
    let text = ""
    while (!text.includes("\n\n")) text += (await reader.read()).value ?? ""
    expect(text).toBe(
      `event: message\ndata: ${JSON.stringify({ method: "notifications/message", params: { level: "info", data: "to the stream" }, jsonrpc: "2.0" })}\n\n`,
    )
    await reader.cancel()
  })

  it("ends a session on DELETE with 200: its notification stream closes and its id is unknown after", async () => {
    const session = await rawSession(app.endpoint())
    const stream = await session.get()
    const ended = stream.text()
    const res = await session.del()
    expect([res.status, await res.text()]).toEqual([200, ""])
    await ended
    const after = await session.post(echo(3, "late"))
    expect(after.status).toBe(404)
    expect(await after.json()).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } })
    expect((await session.del()).status).toBe(404)
  })
})

describe("the proxied MCP endpoint's refusals of an exchange", () => {
  let app: ProxyApp
  beforeEach(async () => {
    app = await startProxyApp()
  })
  afterEach(() => app.close())
  const error = (code: number, message: string) => ({ jsonrpc: "2.0", id: null, error: { code, message } })

  it.each([
    [
      "a client that does not accept event streams",
      { accept: "application/json" },
      406,
      error(-32000, "Not Acceptable: Client must accept both application/json and text/event-stream"),
    ],
    [
      "a client that does not accept JSON",
      { accept: "text/event-stream" },
      406,
      error(-32000, "Not Acceptable: Client must accept both application/json and text/event-stream"),
    ],
    [
      "a JSON-ish content type",
      { "content-type": "application/problem+json" },
      415,
      error(-32000, "Unsupported Media Type: Content-Type must be application/json"),
    ],
    [
      "an unsupported protocol version",
      { "mcp-protocol-version": "1999-01-01" },
      400,
      error(-32000, "Bad Request: Unsupported protocol version: 1999-01-01 (supported versions: 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05, 2024-10-07)"),
    ],
  ])("refuses a POST from %s", async (_, headers, status, body) => {
    const { post } = await rawSession(app.endpoint())
    const res = await post(echo(1, "x"), headers)
    expect(res.status).toBe(status)
    expect(await res.json()).toEqual(body)
  })

  it("refuses a GET that does not accept an event stream with 406, and one without a session with 400", async () => {
    const { headers } = await rawSession(app.endpoint())
    const json = await fetch(app.endpoint(), { method: "GET", headers: { ...headers, accept: "application/json" } })
    expect([json.status, await json.json()]).toEqual([406, error(-32000, "Not Acceptable: Client must accept text/event-stream")])
    const { "mcp-session-id": _, ...sessionless } = headers
    const none = await fetch(app.endpoint(), { method: "GET", headers: { ...sessionless, accept: "text/event-stream" } })
    expect([none.status, await none.json()]).toEqual([400, error(-32000, "Bad Request: Mcp-Session-Id header is required")])
  })

  it("refuses initialize within a session, beside another message, or without what a client must send", async () => {
    const { post } = await rawSession(app.endpoint())
    const again = await post(initialize)
    expect([again.status, await again.json()]).toEqual([400, error(-32600, "Invalid Request: Server already initialized")])
    const batched = await fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(), body: JSON.stringify([initialize, echo(2, "x")]) })
    expect([batched.status, await batched.json()]).toEqual([400, error(-32600, "Invalid Request: Only one initialization request is allowed")])
    const bare = await fetch(app.endpoint(), {
      method: "POST",
      headers: mcpHeaders(),
      body: JSON.stringify({ ...initialize, params: { protocolVersion: "2025-11-25" } }),
    })
    expect(bare.status).toBe(400)
    expect(await bare.json()).toEqual({ jsonrpc: "2.0", id: 1, error: { code: -32602, message: expect.stringContaining("clientInfo") } })
  })

  it("refuses a request without a session with 400", async () => {
    const res = await fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(), body: JSON.stringify(echo(1, "x")) })
    expect([res.status, await res.json()]).toEqual([400, error(-32000, "Bad Request: Mcp-Session-Id header is required")])
  })
})
