import { once } from "node:events"
import type { AddressInfo } from "node:net"
import { SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api"
import Koa from "koa"
import { afterEach, describe, expect, it } from "vitest"
import { requestStateOf } from "../../src/server/requestState.ts"
import { traceRequests } from "../../src/server/traceRequests.ts"
import { recordingTracer, spanText, traceparent } from "../support/spans.ts"
import { mcpBody, startTestApp, TOKEN, type TestApp } from "../support/support.ts"

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
const CALLER_SPAN = "00f067aa0ba902b7"

let app: TestApp | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

/** A bare Koa app with only `traceRequests` in front of `handler`; the routes it knows are `/boom` and `/throws`. */
const bareApp = async (tracer: Tracer, handler: Koa.Middleware) => {
  const koa = new Koa()
  koa.silent = true
  koa.use(traceRequests({ tracer, routeOf: (_, path) => (path === "/boom" || path === "/throws" ? path : null) }))
  koa.use(handler)
  const server = koa.listen(0, "127.0.0.1")
  await once(server, "listening")
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { base, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

describe("the span of a management request", () => {
  it("is one server span with the method, route, path and status, and no header, query or body content", async () => {
    const recorder = recordingTracer()
    app = await startTestApp({ tracer: recorder.tracer })
    const deploy = await app.api("/mcp-servers?token=query-secret-value", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "header-secret-value" },
      body: JSON.stringify(mcpBody({ baseConfigOverrideJson: { environmentVariables: { API_KEY: "body-secret-value" } } })),
    })
    expect(deploy.status).toBe(201)
    const spans = recorder.spans()
    expect(spans).toHaveLength(1)
    const [span] = spans
    expect(span?.name).toBe("POST /mcp-servers")
    expect(span?.kind).toBe(SpanKind.SERVER)
    expect(span?.parentSpanContext).toBeUndefined()
    expect(span?.status.code).toBe(SpanStatusCode.UNSET)
    expect(span?.attributes).toEqual({
      "http.request.method": "POST",
      "url.scheme": "http",
      "url.path": "/mcp-servers",
      "http.route": "/mcp-servers",
      "http.response.status_code": 201,
    })
    const text = spanText(spans)
    for (const secret of [TOKEN, "header-secret-value", "query-secret-value", "body-secret-value", "API_KEY"]) expect(text).not.toContain(secret)
  })

  it("continues the caller's traceparent: the same trace, the caller's span as parent, its tracestate kept", async () => {
    const recorder = recordingTracer()
    app = await startTestApp({ tracer: recorder.tracer })
    const res = await app.api("/mcp-servers", { headers: { traceparent: traceparent(CALLER_TRACE, CALLER_SPAN), tracestate: "vendor=opaque" } })
    expect(res.status).toBe(200)
    const [span] = recorder.spans()
    expect(span?.name).toBe("GET /mcp-servers")
    expect(span?.spanContext().traceId).toBe(CALLER_TRACE)
    expect(span?.spanContext().spanId).not.toBe(CALLER_SPAN)
    expect(span?.parentSpanContext).toMatchObject({ traceId: CALLER_TRACE, spanId: CALLER_SPAN, isRemote: true })
    expect(span?.spanContext().traceState?.serialize()).toBe("vendor=opaque")
  })

  it("starts a trace of its own when the caller's traceparent is malformed", async () => {
    const recorder = recordingTracer()
    app = await startTestApp({ tracer: recorder.tracer })
    await app.api("/mcp-servers", { headers: { traceparent: `00-${CALLER_TRACE}-zz-01` } })
    expect(recorder.spans()).toHaveLength(1)
    const [span] = recorder.spans()
    expect(span?.parentSpanContext).toBeUndefined()
    expect(span?.spanContext().traceId).not.toBe(CALLER_TRACE)
  })

  it("marks a status of 500 or more as an error, and a 4xx or an unmatched route as none", async () => {
    const recorder = recordingTracer()
    const bare = await bareApp(recorder.tracer, (ctx) => {
      if (ctx.path === "/boom") ctx.status = 503
      if (ctx.path === "/throws") throw new Error("a failure with a secret-in-message")
    })
    try {
      expect((await fetch(`${bare.base}/boom`)).status).toBe(503)
      expect((await fetch(`${bare.base}/throws`)).status).toBe(500)
      expect((await fetch(`${bare.base}/nowhere`)).status).toBe(404)
    } finally {
      await bare.close()
    }
    const [boom, thrown, nowhere] = recorder.spans()
    expect(boom).toMatchObject({ name: "GET /boom", status: { code: SpanStatusCode.ERROR } })
    expect(boom?.attributes).toMatchObject({ "http.response.status_code": 503, "error.type": "503" })
    expect(thrown).toMatchObject({ name: "GET /throws", status: { code: SpanStatusCode.ERROR } })
    expect(thrown?.attributes).toMatchObject({ "http.response.status_code": 500, "error.type": "500" })
    expect(nowhere).toMatchObject({ name: "GET", status: { code: SpanStatusCode.UNSET } })
    expect(nowhere?.attributes).toEqual({ "http.request.method": "GET", "url.scheme": "http", "url.path": "/nowhere", "http.response.status_code": 404 })
    expect(spanText(recorder.spans())).not.toContain("secret-in-message")
  })

  it("leaves the trace id on ctx.state for the middlewares after it: the span's when tracing, the caller's when not, none without either", async () => {
    const recorder = recordingTracer()
    const noop = trace.getTracer("dtma")
    const traceIdSeen = async (tracer: Tracer, headers: Record<string, string>) => {
      const bare = await bareApp(tracer, (ctx) => {
        ctx.body = { traceId: requestStateOf(ctx).traceId ?? null }
      })
      try {
        return ((await (await fetch(`${bare.base}/x`, { headers })).json()) as { traceId: string | null }).traceId
      } finally {
        await bare.close()
      }
    }
    const caller = { traceparent: traceparent(CALLER_TRACE, CALLER_SPAN) }
    const recorded = await traceIdSeen(recorder.tracer, {})
    expect(recorded).toBe(recorder.spans()[0]?.spanContext().traceId)
    expect(recorded).toMatch(/^[0-9a-f]{32}$/)
    expect(await traceIdSeen(recorder.tracer, caller)).toBe(CALLER_TRACE)
    expect(await traceIdSeen(noop, caller)).toBe(CALLER_TRACE)
    expect(await traceIdSeen(noop, {})).toBeNull()
  })
})
