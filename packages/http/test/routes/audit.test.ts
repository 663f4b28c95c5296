import * as Effect from "effect/Effect"
import { auditRecordOf, type AuditRecord } from "@dtma/domain"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { auditQueryOf } from "../../src/requests/auditQueryOf.ts"
import { auditRecords, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

const T = Date.parse("2026-03-01T10:00:00.000Z")
const kept = (i: number, fields: Partial<Parameters<typeof auditRecordOf>[0]> = {}): AuditRecord =>
  auditRecordOf({ time: T + i * 1000, route: "/mcp-servers/:name/mcp", method: "tools/call", outcome: "ok", ...fields })

const seed = () =>
  Effect.runPromise(
    Effect.forEach(
      [
        kept(0, { caller: { kind: "agent", sub: "agent-1", jti: "t1" }, server: "memory", name: "read_graph" }),
        kept(1, { caller: { kind: "agent", sub: "agent-2", jti: "t2" }, server: "fs" }),
        kept(2, { caller: { kind: "agent", sub: "agent-1", jti: "t1" }, server: "fs", outcome: "denied", errorCode: "insufficient_scope" }),
        kept(3, { caller: { kind: "operator", fingerprint: "0123456789ab" }, server: "memory", route: "/mcp-servers/:name/start", method: "POST" }),
      ],
      (r) => app.auditLog.record(r),
      { discard: true },
    ),
  )

const records = async (query: string): Promise<ReadonlyArray<AuditRecord>> => {
  const res = await app.api(`/audit${query}`)
  expect(res.status).toBe(200)
  const body = (await res.json()) as { success: boolean; data: { records: ReadonlyArray<AuditRecord> } }
  expect(body.success).toBe(true)
  // What the route's own request adds comes after the answer: only seeded records are asked for.
  return body.data.records.filter((r) => r.route !== "/audit")
}

describe("GET /audit", () => {
  it("answers the newest records first, as { success, data: { records } }", async () => {
    await seed()
    expect((await records("")).map((r) => r.time)).toEqual([3, 2, 1, 0].map((i) => new Date(T + i * 1000).toISOString()))
  })

  it("filters by agent, by server and by time, and answers at most the limit", async () => {
    await seed()
    expect((await records("?agentId=agent-1")).map((r) => r.server)).toEqual(["fs", "memory"])
    expect((await records("?server=memory")).map((r) => r.method)).toEqual(["POST", "tools/call"])
    expect((await records(`?since=${encodeURIComponent(new Date(T + 2000).toISOString())}`)).map((r) => r.server)).toEqual(["memory", "fs"])
    expect((await records("?since=2026-03-01T11:00:01%2B01:00&agentId=agent-1")).map((r) => r.name)).toEqual([null])
    expect(await records("?server=memory&limit=1")).toHaveLength(1)
  })

  it("lists the management requests it recorded, its own earlier ones included", async () => {
    await app.api("/mcp-servers")
    await app.api("/audit?limit=5")
    await auditRecords(app.auditLog, 2)
    const res = await app.api("/audit?limit=5")
    const body = (await res.json()) as { data: { records: ReadonlyArray<AuditRecord> } }
    expect(body.data.records.map((r) => r.route)).toEqual(["/audit", "/mcp-servers"])
  })

  it.each([
    ["?since=yesterday", "since"],
    ["?since=2026-03-01", "since"],
    ["?since=2026-03-01T10:00:00", "since"],
    ["?limit=0", "limit"],
    ["?limit=1001", "limit"],
    ["?limit=ten", "limit"],
    ["?limit=-5", "limit"],
    ["?limit=1&limit=2", "limit"],
    ["?agentId=", "agentId"],
    [`?agentId=${"a".repeat(129)}`, "agentId"],
    ["?server=", "server"],
    ["?sever=memory", "sever"],
  ])("refuses %s with a 400 naming %s", async (query, field) => {
    const res = await app.api(`/audit${query}`)
    expect(res.status).toBe(400)
    const body = (await res.json()) as { success: boolean; error: string; code: string }
    expect(body).toMatchObject({ success: false, code: "invalid_request" })
    expect(body.error).toMatch(new RegExp(`^Invalid ${field}: `))
  })

  it("needs the operator's token", async () => {
    expect((await fetch(`${app.base}/audit`)).status).toBe(401)
  })

  it("answers 503 when the audit cannot be read, saying so", async () => {
    app.auditLog.failNextQuery()
    const res = await app.api("/audit")
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ success: false, code: "audit_unreadable", message: "Failed to read the audit log." })
  })
})

describe("auditQueryOf", () => {
  it("reads the parameters into a query, 100 records when no limit is given", () => {
    expect(auditQueryOf({})).toMatchObject({ success: { limit: 100 } })
    expect(auditQueryOf({ agentId: "a", server: "s", since: "2026-03-01T10:00:00Z", limit: "1000" })).toMatchObject({
      success: { agentId: "a", server: "s", since: T, limit: 1000 },
    })
  })
})
