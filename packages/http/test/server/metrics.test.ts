import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { makeInstances } from "@dtma/domain"
import { InMemoryContainerRuntime } from "@dtma/testing"
import { makeHttpMetrics } from "../../src/server/metrics.ts"
import { auditRecords, deployBody, mcpBody, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

describe("GET /metrics", () => {
  it("needs a token", async () => {
    expect((await fetch(`${app.base}/metrics`)).status).toBe(401)
  })

  it("counts requests by method, route pattern and status, and times them", async () => {
    await app.json("POST", "/tools", deployBody())
    await app.api("/tools/tool-a/stop", { method: "POST" })
    await app.api("/tools/ghost/stop", { method: "POST" })
    const res = await app.api("/metrics")
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/)
    const text = await res.text()
    expect(text).toContain('dtma_http_requests_total{method="POST",route="/tools",status="201"} 1')
    expect(text).toContain('dtma_http_requests_total{method="POST",route="/tools/:name/stop",status="200"} 1')
    expect(text).toContain('dtma_http_requests_total{method="POST",route="/tools/:name/stop",status="404"} 1')
    expect(text).toContain('dtma_http_request_duration_seconds_count{method="POST",route="/tools",status="201"} 1')
    expect(text).not.toContain("ghost")
  })

  it("reports managed instances by state at scrape time", async () => {
    await app.json("POST", "/tools", deployBody())
    await app.json("POST", "/tools", deployBody({ instanceNameOnToolbox: "tool-b" }))
    await app.api("/tools/tool-b/stop", { method: "POST" })
    const text = await (await app.api("/metrics")).text()
    expect(text).toContain('dtma_managed_instances{state="running"} 1')
    expect(text).toContain('dtma_managed_instances{state="exited"} 1')
    expect(text).toContain("dtma_container_runtime_up 1")
  })

  it("says the runtime is down instead of failing the scrape", async () => {
    app.runtime.daemonDown = true
    const res = await app.api("/metrics")
    expect(res.status).toBe(200)
    expect(await res.text()).toContain("dtma_container_runtime_up 0")
  })

  it("counts audit records by outcome", async () => {
    await app.json("POST", "/tools", deployBody())
    await app.api("/tools/ghost/stop", { method: "POST" })
    await fetch(`${app.base}/tools/ghost/stop`, { method: "POST" })
    await fetch(`${app.base}/mcp-servers`, { headers: { authorization: "Bearer wrong" } })
    await auditRecords(app.auditLog, 4)
    const text = await (await app.api("/metrics")).text()
    expect(text).toContain('dtma_audit_records_total{outcome="ok"} 1')
    expect(text).toContain('dtma_audit_records_total{outcome="error"} 1')
    expect(text).toContain('dtma_audit_records_total{outcome="denied"} 2')
    expect(text).toContain('dtma_audit_records_total{outcome="rate_limited"} 0')
  })

  it("reports what the audit file and the backend copy dropped, by reason, and the copy's queue", async () => {
    const instances = makeInstances({
      runtime: new InMemoryContainerRuntime(),
      settings: { reservedHostPorts: [], uncallableHostPorts: [], stopGraceSeconds: 1, bounds: { maxMemoryBytes: 1, maxNanoCpus: 1, maxPidsLimit: 1 } },
    })
    const figures = {
      records: { ok: 7, error: 1, denied: 0, rate_limited: 0, cancelled: 0, timeout: 0 },
      logDropped: 3,
      shippingQueued: 42,
      shippingDropped: { queue_full: 5, rejected: 200 },
    }
    const text = await makeHttpMetrics({ instances, audit: { figures: () => figures } }).registry.metrics()
    expect(text).toContain("dtma_audit_log_dropped_total 3")
    expect(text).toContain('dtma_audit_shipping_dropped_total{reason="queue_full"} 5')
    expect(text).toContain('dtma_audit_shipping_dropped_total{reason="rejected"} 200')
    expect(text).toContain("dtma_audit_shipping_queue 42")
    expect(text).toContain('dtma_audit_records_total{outcome="ok"} 7')
  })

  it("includes the default process metrics", async () => {
    expect(await (await app.api("/metrics")).text()).toContain("process_cpu_user_seconds_total")
  })
})

describe("request logging", () => {
  it("logs one line per request with method, route, status and duration, and no headers or bodies", async () => {
    await app.json("POST", "/tools", deployBody({ baseConfigOverrideJson: { Env: ["KEY=body-secret"] } }))
    const line = app.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "request")
    expect(line).toMatchObject({ method: "POST", route: "/tools", status: 201, ms: expect.any(Number) })
    expect(Object.keys(line ?? {}).sort()).toEqual(["level", "method", "ms", "msg", "route", "service", "status", "time"])
    expect(app.logs.join("\n")).not.toContain("body-secret")
  })

  it.each([
    ["/mcp-servers/mcp-a/mcp", "/mcp-servers/:name/mcp"],
    ["/mcp", "/mcp"],
    // As the router serves the endpoints (SECURITY.md G11): any letter case, a final slash, a percent-encoded name.
    ["/MCP-Servers/mcp-a/Mcp/", "/mcp-servers/:name/mcp"],
    ["/mcp-servers/mcp%2Da/mcp", "/mcp-servers/:name/mcp"],
    ["/Mcp/", "/mcp"],
  ])("logs an MCP request on %s at debug, and one that failed at info", async (path, route) => {
    expect((await app.json("POST", "/mcp-servers", mcpBody())).status).toBe(201)
    const init = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    }
    const call = (headers: Record<string, string>) =>
      app.api(path, {
        method: "POST",
        body: JSON.stringify(init),
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
      })
    expect((await call({})).status).toBe(200)
    expect((await call({ authorization: "Bearer wrong" })).status).toBe(401)
    const lines = app.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "request" && l.route === route)
    expect(lines.map((l) => [l.status, l.level])).toEqual([
      [200, "debug"],
      [401, "info"],
    ])
  })

  it("logs a discovery poll, answered or not modified, at debug, and a refused one at info", async () => {
    const first = await app.api("/mcp-servers/discovery")
    expect((await app.api("/mcp-servers/discovery", { headers: { "if-none-match": first.headers.get("etag")! } })).status).toBe(304)
    expect((await app.api("/mcp-servers/discovery", { headers: { authorization: "Bearer wrong" } })).status).toBe(403)
    const lines = app.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "request" && l.route === "/mcp-servers/discovery")
    expect(lines.map((l) => [l.status, l.level])).toEqual([
      [200, "debug"],
      [304, "debug"],
      [403, "info"],
    ])
  })

  it("logs unauthenticated requests under their route pattern", async () => {
    await fetch(`${app.base}/tools/some-name`, { method: "DELETE" })
    const line = app.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "request")
    expect(line).toMatchObject({ method: "DELETE", route: "/tools/:name", status: 401 })
  })
})
