import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import type { ReadableSpan } from "@opentelemetry/sdk-trace"
import { afterEach, describe, expect, it } from "vitest"
import { eventually, mcpHeaders, startProxyApp, type ProxyApp } from "../support/mcpProxySupport.ts"
import { recordingTracer, spanText, traceparent } from "../support/spans.ts"
import { TOKEN } from "../support/support.ts"

const HEADER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
const HEADER_SPAN = "00f067aa0ba902b7"
const META_TRACE = "0af7651916cd43dd8448eb211c80319c"
const META_SPAN = "b7ad6b7169203331"
const PROXY_ROUTE = "POST /mcp-servers/:name/mcp"

const initialize = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
})
const call = (id: number, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args, ...(meta === undefined ? {} : { _meta: meta }) },
})

/** A client session made by hand: POSTs carry its id, and `headers` besides. */
const session = async (endpoint: string) => {
  const opened = await fetch(endpoint, { method: "POST", headers: mcpHeaders(), body: initialize })
  expect(opened.status).toBe(200)
  const sessionId = opened.headers.get("mcp-session-id")!
  await opened.text()
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(endpoint, { method: "POST", headers: { ...mcpHeaders(sessionId), "mcp-protocol-version": "2025-11-25", ...headers }, body: JSON.stringify(body) })
  return { sessionId, post }
}

let app: ProxyApp
afterEach(() => app.close())

/** The spans once `count` of them have ended: a proxied answer is written before the POST's span ends. */
const spansOnceEnded = async (spans: () => ReadonlyArray<ReadableSpan>, count: number): Promise<ReadonlyArray<ReadableSpan>> => {
  await eventually(() => expect(spans().length).toBeGreaterThanOrEqual(count))
  return spans()
}
const named = (spans: ReadonlyArray<ReadableSpan>, name: string): ReadonlyArray<ReadableSpan> => spans.filter((s) => s.name === name)
const postSpanOf = (spans: ReadonlyArray<ReadableSpan>, mcpSpan: ReadableSpan | undefined): ReadableSpan | undefined =>
  named(spans, PROXY_ROUTE).find((s) => s.spanContext().spanId === mcpSpan?.parentSpanContext?.spanId)

describe("the spans of proxied MCP requests", () => {
  it("gives a tools/call a server span of its own, a child of its POST's span, with the tool's name and the session", async () => {
    const recorder = recordingTracer()
    app = await startProxyApp({}, { tracer: recorder.tracer })
    const { sessionId, post } = await session(app.endpoint())
    expect(await (await post(call(2, "echo", { text: "hello" }))).json()).toMatchObject({ id: 2, result: { content: [{ text: "hello" }] } })

    const spans = await spansOnceEnded(recorder.spans, 4)
    const [tool] = named(spans, "tools/call echo")
    expect(tool?.kind).toBe(SpanKind.SERVER)
    expect(tool?.status.code).toBe(SpanStatusCode.UNSET)
    expect(tool?.attributes).toEqual({
      "mcp.method.name": "tools/call",
      "mcp.session.id": sessionId,
      "jsonrpc.request.id": "2",
      "dtma.mcp.server": "fixture",
      "gen_ai.tool.name": "echo",
      "gen_ai.operation.name": "execute_tool",
      "dtma.mcp.outcome": "ok",
    })
    const postSpan = postSpanOf(spans, tool)
    expect(postSpan?.spanContext().traceId).toBe(tool?.spanContext().traceId)
    expect(postSpan?.attributes["http.response.status_code"]).toBe(200)
    expect(named(spans, "initialize")).toHaveLength(1)
  })

  it("gives a 2026-07-28 request its span too, naming no session, and passes it on in _meta.traceparent without the envelope", async () => {
    const recorder = recordingTracer()
    app = await startProxyApp({}, { tracer: recorder.tracer })
    const envelope = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }
    const res = await fetch(app.endpoint(), {
      method: "POST",
      headers: { ...mcpHeaders(), "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "echo" },
      body: JSON.stringify(call(2, "echo", { text: "hello" }, { ...envelope, traceparent: traceparent(META_TRACE, META_SPAN) })),
    })
    expect(await res.json()).toMatchObject({ id: 2, result: { resultType: "complete", content: [{ text: "hello" }] } })
    const spans = await spansOnceEnded(recorder.spans, 2)
    const [tool] = named(spans, "tools/call echo")
    expect(tool?.spanContext().traceId).toBe(META_TRACE)
    expect(tool?.attributes).not.toHaveProperty("mcp.session.id")
    expect(tool?.attributes).toMatchObject({ "mcp.method.name": "tools/call", "dtma.mcp.server": "fixture" })
    const meta = app.probe.echoMeta.at(-1)
    expect(Object.keys(meta ?? {})).toEqual(["traceparent"])
    expect(String(meta?.["traceparent"])).toContain(tool!.spanContext().spanId)
  })

  it("gives each resource a 2026-07-28 listen subscribes to a resources/subscribe span, a child of the listen's POST", async () => {
    const recorder = recordingTracer()
    app = await startProxyApp({}, { tracer: recorder.tracer })
    const abort = new AbortController()
    const res = await fetch(app.endpoint(), {
      method: "POST",
      signal: abort.signal,
      headers: { ...mcpHeaders(), "mcp-protocol-version": "2026-07-28", "mcp-method": "subscriptions/listen" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 4,
        method: "subscriptions/listen",
        params: {
          notifications: { resourceSubscriptions: ["test://a"] },
          _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} },
        },
      }),
    })
    expect(res.status).toBe(200)
    await eventually(() => expect(app.probe.subscribed).toEqual(["test://a"]))
    abort.abort()
    const spans = await spansOnceEnded(recorder.spans, 3)
    const [subscribe] = named(spans, "resources/subscribe")
    expect(subscribe?.attributes).toMatchObject({ "mcp.method.name": "resources/subscribe", "mcp.resource.uri": "test://a", "dtma.mcp.server": "fixture" })
    expect(subscribe?.attributes).not.toHaveProperty("mcp.session.id")
    expect(postSpanOf(spans, subscribe)).toBeDefined()
  })

  it("passes the DTMA's span on to the server in _meta.traceparent, continuing the POST's traceparent header and keeping the rest of _meta", async () => {
    const recorder = recordingTracer()
    app = await startProxyApp({}, { tracer: recorder.tracer })
    const { post } = await session(app.endpoint())
    const res = await post(call(2, "echo", { text: "hello" }, { "example.com/note": "kept" }), { traceparent: traceparent(HEADER_TRACE, HEADER_SPAN) })
    expect(res.status).toBe(200)
    await res.text()

    const spans = await spansOnceEnded(recorder.spans, 4)
    const [tool] = named(spans, "tools/call echo")
    expect(tool?.spanContext().traceId).toBe(HEADER_TRACE)
    expect(postSpanOf(spans, tool)?.parentSpanContext?.spanId).toBe(HEADER_SPAN)
    expect(app.probe.echoMeta).toEqual([{ "example.com/note": "kept", traceparent: traceparent(HEADER_TRACE, tool!.spanContext().spanId) }])
  })

  it("continues each request's own _meta.traceparent ahead of the POST's header, linking the POST's span, across a batch", async () => {
    const recorder = recordingTracer()
    app = await startProxyApp({}, { tracer: recorder.tracer })
    const { post } = await session(app.endpoint())
    const batch = [
      call(2, "echo", { text: "own trace" }, { traceparent: traceparent(META_TRACE, META_SPAN), tracestate: "vendor=opaque" }),
      call(3, "add", { a: 1, b: 2 }),
    ]
    const res = await post(batch, { traceparent: traceparent(HEADER_TRACE, HEADER_SPAN) })
    expect(res.status).toBe(200)
    await res.text()

    const spans = await spansOnceEnded(recorder.spans, 5)
    const [own] = named(spans, "tools/call echo")
    const [inherited] = named(spans, "tools/call add")
    const [postSpan] = named(spans, PROXY_ROUTE).filter((s) => s.spanContext().traceId === HEADER_TRACE)
    expect(own?.spanContext().traceId).toBe(META_TRACE)
    expect(own?.parentSpanContext).toMatchObject({ traceId: META_TRACE, spanId: META_SPAN, isRemote: true })
    expect(own?.links.map((l) => l.context.spanId)).toEqual([postSpan?.spanContext().spanId])
    expect(inherited?.parentSpanContext?.spanId).toBe(postSpan?.spanContext().spanId)
    expect(inherited?.links).toEqual([])
    expect(app.probe.echoMeta).toEqual([{ traceparent: traceparent(META_TRACE, own!.spanContext().spanId), tracestate: "vendor=opaque" }])
  })

  it("ends a span with how its request ended: a JSON-RPC error by its code, a tool error, a cancellation", async () => {
    const recorder = recordingTracer()
    app = await startProxyApp({}, { tracer: recorder.tracer })
    const { post } = await session(app.endpoint())
    await (await post({ jsonrpc: "2.0", id: 2, method: "nope/nope" })).text()
    await (await post(call(3, "echo", { text: 42 }))).text()
    const waiting = post(call(4, "wait", { tag: "w" }))
    await eventually(() => expect(app.probe.waiting.has("w")).toBe(true))
    await (await post({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 4 } })).text()
    expect((await waiting).status).toBe(202)

    const spans = await spansOnceEnded(recorder.spans, 9)
    const [unknown] = named(spans, "nope/nope")
    expect(unknown?.status.code).toBe(SpanStatusCode.ERROR)
    expect(unknown?.status.message).toBeUndefined()
    expect(unknown?.attributes).toMatchObject({ "dtma.mcp.outcome": "error", "error.type": "-32601", "rpc.response.status_code": "-32601" })
    const [invalid] = named(spans, "tools/call echo")
    expect(invalid?.status.code).toBe(SpanStatusCode.ERROR)
    expect(invalid?.attributes["dtma.mcp.outcome"]).toBe("error")
    expect(["tool_error", "-32602"]).toContain(invalid?.attributes["error.type"])
    const [cancelled] = named(spans, "tools/call wait")
    expect(cancelled?.status.code).toBe(SpanStatusCode.UNSET)
    expect(cancelled?.attributes["dtma.mcp.outcome"]).toBe("cancelled")
  })

  it("ends the span of a request that timed out as a timeout, and that of one refused for a saturated server as refused", async () => {
    const recorder = recordingTracer()
    app = await startProxyApp({ requestTimeoutMs: 100, maxInFlight: 1, maxQueued: 0 }, { tracer: recorder.tracer })
    const { post } = await session(app.endpoint())
    const held = post(call(2, "hold", { tag: "h" }))
    await eventually(() => expect(app.probe.held.has("h")).toBe(true))
    expect((await post(call(3, "echo", { text: "no room" }))).status).toBe(429)
    expect(await (await held).json()).toMatchObject({ id: 2, error: { code: -32001 } })
    app.probe.release("h")

    const spans = await spansOnceEnded(recorder.spans, 6)
    const [timedOut] = named(spans, "tools/call hold")
    expect(timedOut?.status.code).toBe(SpanStatusCode.ERROR)
    expect(timedOut?.attributes).toMatchObject({ "dtma.mcp.outcome": "timeout", "error.type": "-32001" })
    const [refused] = named(spans, "tools/call echo")
    expect(refused?.status.code).toBe(SpanStatusCode.ERROR)
    expect(refused?.attributes).toMatchObject({ "dtma.mcp.outcome": "refused", "error.type": "McpServerBusy", "rpc.response.status_code": "-32002" })
  })

  it("keeps a tool's arguments, its result, error messages and the token out of every span", async () => {
    const recorder = recordingTracer()
    app = await startProxyApp({}, { tracer: recorder.tracer })
    const { post } = await session(app.endpoint())
    const echoed = await (await post(call(2, "echo", { text: "argument-and-result-secret" }))).json()
    expect(JSON.stringify(echoed)).toContain("argument-and-result-secret")
    const refused = await (await post(call(3, "echo", { text: 4242, other: "invalid-argument-secret" }))).text()
    expect(refused).toContain("Input validation error")
    await (await post({ jsonrpc: "2.0", id: 4, method: "resources/read", params: { uri: "test://a", extra: "param-secret" } })).text()

    const spans = await spansOnceEnded(recorder.spans, 8)
    expect(named(spans, "resources/read")[0]?.attributes["mcp.resource.uri"]).toBe("test://a")
    const text = spanText(spans)
    for (const secret of [TOKEN, "argument-and-result-secret", "invalid-argument-secret", "4242", "param-secret", "Input validation"]) {
      expect(text).not.toContain(secret)
    }
  })
})

describe("proxied MCP requests with tracing off", () => {
  it("pass the caller's trace context on to the server as it came, and add none without one", async () => {
    app = await startProxyApp()
    const { post } = await session(app.endpoint())
    await (await post(call(2, "echo", { text: "a" }), { traceparent: traceparent(HEADER_TRACE, HEADER_SPAN) })).text()
    await (await post(call(3, "echo", { text: "b" }, { traceparent: traceparent(META_TRACE, META_SPAN) }))).text()
    await (await post(call(4, "echo", { text: "c" }))).text()
    expect(app.probe.echoMeta).toEqual([
      { traceparent: traceparent(HEADER_TRACE, HEADER_SPAN) },
      { traceparent: traceparent(META_TRACE, META_SPAN) },
      undefined,
    ])
  })
})
