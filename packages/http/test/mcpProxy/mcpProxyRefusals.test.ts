import { afterEach, describe, expect, it } from "vitest"
import { mcpBody } from "../support/support.ts"
import { eventually, mcpHeaders, PROXY_IMAGE, sseMessages, startProxyApp, type ProxyApp } from "../support/mcpProxySupport.ts"

const initialize = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
})
const call = (id: number | string, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args, ...(meta === undefined ? {} : { _meta: meta }) },
})

/** The JSON-RPC messages of a POST's answer, whether one JSON body or an event stream. */
const messagesOf = async (res: Response): Promise<ReadonlyArray<Record<string, unknown>>> => {
  if (res.headers.get("content-type")?.startsWith("text/event-stream")) return sseMessages(res)
  const body = (await res.json()) as Record<string, unknown> | Array<Record<string, unknown>>
  return Array.isArray(body) ? body : [body]
}

const textOf = (m: Record<string, unknown> | undefined) => (m?.["result"] as { content: Array<{ text: string }> } | undefined)?.content[0]?.text

/** A client session made by hand: POSTs carry its id. */
const session = async (endpoint: string) => {
  const opened = await fetch(endpoint, { method: "POST", headers: mcpHeaders(), body: initialize })
  expect(opened.status).toBe(200)
  const sessionId = opened.headers.get("mcp-session-id")!
  await opened.text()
  const post = (body: unknown) =>
    fetch(endpoint, {
      method: "POST",
      headers: { ...mcpHeaders(sessionId), "mcp-protocol-version": "2025-11-25" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    })
  return { sessionId, post }
}

describe("the proxied MCP endpoint, given a request id already in flight in the session", () => {
  let app: ProxyApp
  afterEach(() => app.close())

  it("refuses a second request with an id in flight in its session with -32600 and still answers the first, as one JSON body or an event stream", async () => {
    app = await startProxyApp()
    const { post } = await session(app.endpoint())
    for (const [tag, meta] of [
      ["json", undefined],
      ["stream", { progressToken: "p" }],
    ] as const) {
      const first = post(call(5, "hold", { tag }, meta))
      await eventually(() => expect(app.probe.held.has(tag)).toBe(true))

      const second = await post(call(5, "echo", { text: "second" }))
      expect(second.status).toBe(400)
      expect(await second.json()).toEqual({
        jsonrpc: "2.0",
        id: 5,
        error: { code: -32600, message: "Invalid Request: id 5 is already in use by a request in flight in this session" },
      })
      expect(app.probe.cancelled).toEqual([])

      app.probe.release(tag)
      const answers = (await messagesOf(await first)).filter((m) => "id" in m)
      expect(answers).toEqual([expect.objectContaining({ id: 5 })])
      expect(textOf(answers[0])).toBe(`released ${tag}`)
    }
  })

  it("serves the first of two requests with one id in a batch and refuses the second with -32600", async () => {
    app = await startProxyApp()
    const { post } = await session(app.endpoint())
    const res = await post([call("x", "echo", { text: "first" }), call("x", "echo", { text: "second" }), call(2, "echo", { text: "other" })])
    expect(res.status).toBe(200)
    const answers = await messagesOf(res)
    expect(answers).toHaveLength(3)
    expect(answers.filter((m) => m["id"] === "x").map(textOf)).toEqual(["first", undefined])
    expect(answers).toContainEqual({
      jsonrpc: "2.0",
      id: "x",
      error: { code: -32600, message: 'Invalid Request: id "x" is already in use by a request in flight in this session' },
    })
    expect(textOf(answers.find((m) => m["id"] === 2))).toBe("other")
  })

  it("accepts an id again once its request was answered", async () => {
    app = await startProxyApp()
    const { post } = await session(app.endpoint())
    for (const text of ["one", "two"]) expect(textOf((await messagesOf(await post(call(3, "echo", { text }))))[0])).toBe(text)
  })
})

describe("the proxied MCP endpoint, given a body that is JSON but not JSON-RPC", () => {
  let app: ProxyApp
  afterEach(() => app.close())

  it("answers an empty batch with 400 and a JSON-RPC Invalid Request error, in a session or not", async () => {
    app = await startProxyApp()
    const { post } = await session(app.endpoint())
    const sessionless = await fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(), body: "[]" })
    for (const res of [await post("[]"), sessionless]) {
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request: the batch is empty" } })
    }
  })

  it.each([
    ["a request without jsonrpc", { id: 4, method: "tools/list" }, 'Invalid Request: the message has no "jsonrpc": "2.0"'],
    ["a request of another JSON-RPC version", { jsonrpc: "1.0", id: 4, method: "tools/list" }, 'Invalid Request: the message has no "jsonrpc": "2.0"'],
    ["a batch holding a number", [42], "Invalid Request: message 1 of the batch is not a JSON object"],
    [
      "a request whose method is not a string",
      { jsonrpc: "2.0", id: 4, method: 7 },
      "Invalid Request: the message is not a JSON-RPC request, notification or response",
    ],
    [
      "a batch with one bad message",
      [
        { jsonrpc: "2.0", id: 4, method: "tools/list" },
        { id: 5, method: "tools/list" },
      ],
      'Invalid Request: message 2 of the batch has no "jsonrpc": "2.0"',
    ],
  ])("answers %s with 400 and -32600 (Invalid Request), not a parse error, in a session or not", async (_, body, message) => {
    app = await startProxyApp()
    const { post } = await session(app.endpoint())
    const sessionless = await fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(), body: JSON.stringify(body) })
    for (const res of [await post(body), sessionless]) {
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32600, message } })
    }
  })
})

describe("the proxied MCP endpoint's bounds on client sessions", () => {
  let app: ProxyApp
  afterEach(() => app.close())
  const metric = async (line: string): Promise<number | null> => {
    const text = await (await app.api("/metrics")).text()
    const found = text.split("\n").find((l) => l.startsWith(`${line} `))
    return found === undefined ? null : Number(found.slice(line.length + 1))
  }

  it("refuses an initialize past the cap per server, and past the cap in total, with 429, a JSON-RPC error and Retry-After, counted in /metrics", async () => {
    app = await startProxyApp({ maxSessionsPerServer: 2, maxSessions: 3 })
    expect((await app.json("POST", "/mcp-servers", mcpBody({ dockerImageUrl: PROXY_IMAGE, instanceNameOnToolbox: "second" }))).status).toBe(201)
    const [a] = [await session(app.endpoint()), await session(app.endpoint())]
    const overServer = await fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(), body: initialize })
    expect(overServer.status).toBe(429)
    expect(overServer.headers.get("retry-after")).toBe("5")
    expect(await overServer.json()).toEqual({
      jsonrpc: "2.0",
      id: 1,
      error: {
        code: -32002,
        message:
          "MCP server 'fixture' has 2 client sessions, the most this DTMA keeps per server (DTMA_MCP_MAX_SESSIONS_PER_SERVER); " +
          "end one (DELETE) or retry later.",
      },
    })

    await session(app.endpoint("second"))
    const overTotal = await fetch(app.endpoint("second"), { method: "POST", headers: mcpHeaders(), body: initialize })
    expect(overTotal.status).toBe(429)
    expect(await overTotal.json()).toMatchObject({
      id: 1,
      error: { code: -32002, message: "This DTMA has 3 client sessions, the most it keeps (DTMA_MCP_MAX_SESSIONS); end one (DELETE) or retry later." },
    })

    expect(await metric('dtma_mcp_client_sessions{server="fixture"}')).toBe(2)
    expect(await metric('dtma_mcp_client_sessions{server="second"}')).toBe(1)
    expect(await metric('dtma_mcp_client_sessions_refused_total{limit="per_server"}')).toBe(1)
    expect(await metric('dtma_mcp_client_sessions_refused_total{limit="total"}')).toBe(1)

    expect((await fetch(app.endpoint(), { method: "DELETE", headers: mcpHeaders(a!.sessionId) })).status).toBe(200)
    expect((await fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(), body: initialize })).status).toBe(200)
  })

  it("holds to the caps when many initialize requests arrive at once", async () => {
    app = await startProxyApp({ maxSessionsPerServer: 5 })
    const opening = () => fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(), body: initialize }).then(async (r) => (await r.text(), r.status))
    const answers = await Promise.all(Array.from({ length: 40 }, opening))
    expect(answers.filter((s) => s === 200)).toHaveLength(5)
    expect(answers.filter((s) => s === 429)).toHaveLength(35)
    expect(await metric('dtma_mcp_client_sessions{server="fixture"}')).toBe(5)
  })

  it("forgets a session idle for DTMA_MCP_SESSION_IDLE_TIMEOUT_MS", async () => {
    app = await startProxyApp({ sessionIdleTimeoutMs: 150 })
    const { post } = await session(app.endpoint())
    expect(textOf((await messagesOf(await post(call(1, "echo", { text: "early" }))))[0])).toBe("early")
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect((await post(call(2, "echo", { text: "late" }))).status).toBe(404)
  })
})
