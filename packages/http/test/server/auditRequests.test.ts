import { once } from "node:events"
import { request as httpRequest } from "node:http"
import type { AddressInfo } from "node:net"
import type { AgentIdentity, AuditRecord } from "@dtma/domain"
import { InMemoryAuditLog } from "@dtma/testing"
import Koa from "koa"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { auditRequests, errorCodeOf, outcomeOfStatus } from "../../src/server/auditRequests.ts"
import { operatorFingerprintOf } from "../../src/server/caller.ts"
import { requestStateOf } from "../../src/server/requestState.ts"
import { auditRecords, capturingLogger, deployBody, OTHER_TOKEN, startTestApp, TOKEN, type TestApp } from "../support/support.ts"

describe("auditing management requests", () => {
  let app: TestApp
  beforeEach(async () => {
    app = await startTestApp()
  })
  afterEach(() => app.close())

  const one = async (request: () => Promise<Response>): Promise<AuditRecord> => {
    const before = app.auditLog.records.length
    await (await request()).arrayBuffer()
    const records = await auditRecords(app.auditLog, before + 1)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(app.auditLog.records).toHaveLength(before + 1)
    return records.at(-1)!
  }

  it.each([
    [
      "POST /tools (deployed)",
      () => app.json("POST", "/tools", deployBody()),
      { route: "/tools", method: "POST", outcome: "ok", errorCode: null, server: null },
    ],
    [
      "POST /tools/:name/stop of an unknown tool",
      () => app.api("/tools/ghost/stop", { method: "POST" }),
      { route: "/tools/:name/stop", method: "POST", outcome: "error", errorCode: "404", server: "ghost" },
    ],
    [
      "a deploy the schema refuses",
      () => app.json("POST", "/mcp-servers", { instanceNameOnToolbox: "m" }),
      { route: "/mcp-servers", outcome: "error", errorCode: "400" },
    ],
    [
      "GET /mcp-servers/:name of an unknown server",
      () => app.api("/mcp-servers/nope"),
      { route: "/mcp-servers/:name", method: "GET", outcome: "error", errorCode: "not_found", server: "nope" },
    ],
    [
      "a request without a token",
      () => fetch(`${app.base}/mcp-servers/x/stop`, { method: "POST" }),
      { route: "/mcp-servers/:name/stop", outcome: "denied", errorCode: "401", caller: { kind: "anonymous" }, server: "x" },
    ],
    [
      "a request with a wrong token",
      () => app.api("/mcp-servers", { headers: { authorization: "Bearer not-a-key" } }),
      { route: "/mcp-servers", outcome: "denied", errorCode: "403", caller: { kind: "anonymous" } },
    ],
    [
      "a method the route does not take",
      () => app.api("/tools", { method: "PUT" }),
      { route: "unmatched", method: "PUT", outcome: "error", errorCode: "method_not_allowed" },
    ],
    ["a path no route has", () => app.api("/nothing/here"), { route: "unmatched", method: "GET", outcome: "error", errorCode: "404" }],
    [
      "a body over 1 MB",
      () => app.api("/tools", { method: "POST", headers: { "content-type": "application/json" }, body: `{"x":"${"a".repeat(1_100_000)}"}` }),
      { route: "/tools", outcome: "error", errorCode: "payload_too_large" },
    ],
    ["GET /metrics", () => app.api("/metrics"), { route: "/metrics", method: "GET", outcome: "ok" }],
    ["GET /audit", () => app.api("/audit"), { route: "/audit", method: "GET", outcome: "ok" }],
  ])("writes exactly one record for %s, its outcome and code from the answer", async (_, request, expected) => {
    expect(await one(request)).toMatchObject(expected)
  })

  it("writes none for GET /health, GET and HEAD /status, and one for each MCP endpoint request, the endpoint's own", async () => {
    await app.api("/health")
    await fetch(`${app.base}/status`)
    await fetch(`${app.base}/status`, { method: "HEAD" })
    await app.json("POST", "/mcp-servers/ghost/mcp", { jsonrpc: "2.0", id: 1, method: "ping" })
    await fetch(`${app.base}/mcp-servers/ghost/mcp`, { method: "POST" })
    await app.api("/mcp", { method: "POST" })
    await app.api("/metrics")
    const records = await auditRecords(app.auditLog, 4)
    await new Promise((resolve) => setTimeout(resolve, 50))
    // The MCP endpoints' three are `auditMcpEndpoints`' records, not this middleware's.
    expect(records.map((r) => r.route).sort()).toEqual(["/mcp", "/mcp-servers/:name/mcp", "/mcp-servers/:name/mcp", "/metrics"])
  })

  it("names the operator by a fingerprint of the key presented, one per key, never the key", async () => {
    await app.api("/mcp-servers")
    await app.api("/mcp-servers", { headers: { authorization: `Bearer ${OTHER_TOKEN}` } })
    const records = await auditRecords(app.auditLog, 2)
    expect(records.map((r) => r.caller)).toEqual([
      { kind: "operator", fingerprint: operatorFingerprintOf(TOKEN) },
      { kind: "operator", fingerprint: operatorFingerprintOf(OTHER_TOKEN) },
    ])
    expect(operatorFingerprintOf(TOKEN)).toMatch(/^[0-9a-f]{12}$/)
    expect(operatorFingerprintOf(TOKEN)).not.toBe(operatorFingerprintOf(OTHER_TOKEN))
    const text = JSON.stringify(records)
    for (const key of [TOKEN, OTHER_TOKEN]) expect(text).not.toContain(key)
  })

  it("counts the bytes of the request body and of the answer, and times the request", async () => {
    const body = JSON.stringify(deployBody())
    const res = await app.api("/tools", { method: "POST", headers: { "content-type": "application/json" }, body })
    const answer = await res.arrayBuffer()
    const [record] = await auditRecords(app.auditLog, 1)
    expect(record).toMatchObject({ requestBytes: Buffer.byteLength(body), responseBytes: answer.byteLength, sessionId: null, name: null })
    expect(record?.durationMs).toBeGreaterThan(0)
  })

  it("carries the trace id of the caller's traceparent", async () => {
    await app.api("/mcp-servers", { headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } })
    await app.api("/mcp-servers", { headers: { traceparent: "garbage" } })
    expect((await auditRecords(app.auditLog, 2)).map((r) => r.traceId)).toEqual(["4bf92f3577b34da6a3ce929d0e0e4736", null])
  })
})

describe("auditRequests", () => {
  const agent: AgentIdentity = { kind: "agent", sub: "agent-7", jti: "tok-9", issuer: "dtma", issuedAt: 0, expiresAt: 1, grants: [] }

  const serve = async (handler: Koa.Middleware) => {
    const log = new InMemoryAuditLog()
    const koa = new Koa()
    koa.use(
      auditRequests({
        audit: log,
        matchRoute: () => ({ route: "/things/:name", params: { name: "thing-1" } }),
        isPublic: () => false,
        logger: capturingLogger().logger,
        now: () => 1_780_000_000_000,
      }),
    )
    koa.use(handler)
    const server = koa.listen(0, "127.0.0.1")
    await once(server, "listening")
    return { log, server, port: (server.address() as AddressInfo).port }
  }

  it("takes the caller a later layer set in ctx.state.caller: an agent by its id and token id", async () => {
    const { log, server, port } = await serve((ctx) => {
      requestStateOf(ctx).caller = agent
      ctx.status = 403
      ctx.body = { success: false, error: "no", code: "agent_token_not_allowed" }
    })
    await (await fetch(`http://127.0.0.1:${port}/things/thing-1`)).text()
    const [record] = await auditRecords(log, 1)
    expect(record).toMatchObject({
      caller: { kind: "agent", sub: "agent-7", jti: "tok-9" },
      outcome: "denied",
      errorCode: "agent_token_not_allowed",
      server: "thing-1",
      time: new Date(1_780_000_000_000).toISOString(),
    })
    server.close()
  })

  it("records a request whose caller went away before the answer as cancelled", async () => {
    let release: () => void = () => undefined
    let arrived: () => void = () => undefined
    const handling = new Promise<void>((resolve) => (arrived = resolve))
    const { log, server, port } = await serve(async (ctx) => {
      arrived()
      await new Promise<void>((resolve) => (release = resolve))
      ctx.body = { ok: true }
    })
    const req = httpRequest({ host: "127.0.0.1", port, path: "/things/thing-1" })
    req.on("error", () => undefined)
    req.end()
    await handling
    req.destroy()
    const [record] = await auditRecords(log, 1)
    expect(record).toMatchObject({ outcome: "cancelled", errorCode: null, responseBytes: 0 })
    release()
    server.close()
  })
})

describe("a management request's outcome", () => {
  it.each([
    [200, "ok"],
    [201, "ok"],
    [304, "ok"],
    [400, "error"],
    [401, "denied"],
    [403, "denied"],
    [404, "error"],
    [408, "timeout"],
    [409, "error"],
    [413, "error"],
    [429, "rate_limited"],
    [500, "error"],
    [502, "error"],
    [503, "error"],
    [504, "timeout"],
  ] as const)("of a %i is %s", (status, outcome) => {
    expect(outcomeOfStatus(status)).toBe(outcome)
  })

  it("has the body's code as its error code, else the status, never the body's words", () => {
    expect(errorCodeOf(404, { success: false, error: "MCP server 'x' not found", code: "not_found" })).toBe("not_found")
    expect(errorCodeOf(404, { error: "Tool instance 'x' not found" })).toBe("404")
    expect(errorCodeOf(400, { code: "Not a code: it has words" })).toBe("400")
    expect(errorCodeOf(200, { code: "whatever" })).toBeNull()
  })
})
