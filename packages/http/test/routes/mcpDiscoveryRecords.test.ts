import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { auditRecords, mcpBody, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

describe("GET /mcp-servers/discovery, recorded", () => {
  it("audits every poll once under its route, answered, not modified or refused", async () => {
    await app.json("POST", "/mcp-servers", mcpBody())
    const before = app.auditLog.records.length
    const etag = (await app.api("/mcp-servers/discovery")).headers.get("etag")!
    expect((await app.api("/mcp-servers/discovery/?x=1", { headers: { "if-none-match": etag } })).status).toBe(304)
    expect((await app.api("/MCP-Servers/Discovery", { headers: { authorization: "" } })).status).toBe(401)
    const records = (await auditRecords(app.auditLog, before + 3)).slice(before)
    expect(records.map((r) => [r.route, r.method, r.server, r.outcome, r.caller.kind])).toEqual([
      ["/mcp-servers/discovery", "GET", null, "ok", "operator"],
      ["/mcp-servers/discovery", "GET", null, "ok", "operator"],
      ["/mcp-servers/discovery", "GET", null, "denied", "anonymous"],
    ])
    expect(records[0]!.responseBytes).toBeGreaterThan(0)
    expect(records[1]!.responseBytes).toBe(0)
  })

  it("counts polls in the request metrics under the route", async () => {
    const etag = (await app.api("/mcp-servers/discovery")).headers.get("etag")!
    await app.api("/mcp-servers/discovery", { headers: { "if-none-match": etag } })
    const text = await (await app.api("/metrics")).text()
    expect(text).toContain('dtma_http_requests_total{method="GET",route="/mcp-servers/discovery",status="200"} 1')
    expect(text).toContain('dtma_http_requests_total{method="GET",route="/mcp-servers/discovery",status="304"} 1')
  })
})
