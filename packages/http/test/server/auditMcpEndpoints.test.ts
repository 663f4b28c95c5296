import { afterEach, describe, expect, it } from "vitest"
import type { AuditRecord, Grants } from "@dtma/domain"
import { mcpHeaders } from "../support/mcpProxySupport.ts"
import { answerOf, ask, INITIALIZE, listen, openSession, postIn, readStream, startGrantsApp, type GrantsApp } from "../support/grantsSupport.ts"
import { auditRecords, TOKEN } from "../support/support.ts"

let app: GrantsApp
afterEach(() => app.close())

const SOME: Grants = [{ target: { server: "fixture" }, tools: ["echo", "hold"], prompts: [], resources: false }]

/** The records after the first `n` (those of setting up), once there are `more` of them. */
const recordsAfter = async (n: number, more: number): Promise<ReadonlyArray<AuditRecord>> => (await auditRecords(app.auditLog, n + more)).slice(n)

/** Lets a record that should not come arrive, if it were to. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50))

const call = (id: number | string, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
})

describe("the audit of an MCP endpoint", () => {
  it("holds one record per request of an agent's session: its method, what it named, how it ended, no argument", async () => {
    app = await startGrantsApp()
    const token = await app.mint(SOME, { sub: "agent-7" })
    const session = await openSession(app.endpoint(), token)
    const before = (await auditRecords(app.auditLog, 1)).length
    expect(await ask(app.endpoint(), session, token, "tools/call", { name: "echo", arguments: { text: "sk-argument-value" } })).toHaveProperty("result")
    await ask(app.endpoint(), session, token, "tools/call", { name: "secret", arguments: {} }, 2)
    await ask(app.endpoint(), session, token, "no/such/method", {}, 3)

    const records = await recordsAfter(before, 3)
    await settle()
    expect(app.auditLog.records).toHaveLength(before + 3)
    expect(records.map((r) => [r.method, r.name, r.outcome, r.errorCode])).toEqual([
      ["tools/call", "echo", "ok", null],
      ["tools/call", "secret", "denied", "insufficient_scope"],
      // Not an MCP method: the DTMA answers as a server without it would, and no grant names it.
      ["no/such/method", null, "denied", "insufficient_scope"],
    ])
    for (const r of records) {
      expect(r).toMatchObject({ caller: { kind: "agent", sub: "agent-7" }, route: "/mcp-servers/:name/mcp", server: "fixture", sessionId: session })
      expect(r.requestBytes).toBeGreaterThan(0)
      expect(r.responseBytes).toBeGreaterThan(0)
    }
    expect(JSON.stringify(app.auditLog.records)).not.toContain("sk-argument-value")
    expect(JSON.stringify(app.auditLog.records)).not.toContain(token)
  })

  it("records the opening initialize, and each request of a batch, a repeated id in flight included", async () => {
    app = await startGrantsApp()
    const session = await openSession(app.endpoint(), TOKEN)
    const [opening] = await auditRecords(app.auditLog, 1)
    expect(opening).toMatchObject({ method: "initialize", outcome: "ok", sessionId: session, caller: { kind: "operator" } })

    const held = readStream(
      await postIn(app.endpoint(), session, TOKEN, {
        ...call("h", "hold", { tag: "t" }),
        params: { name: "hold", arguments: { tag: "t" }, _meta: { progressToken: 1 } },
      }),
    )
    const batch = await postIn(app.endpoint(), session, TOKEN, [call(1, "echo", { text: "a" }), call("h", "echo", { text: "b" })])
    expect(batch.status).toBe(200)
    await batch.text()
    const records = await recordsAfter(1, 2)
    expect(records.map((r) => [r.name, r.outcome, r.errorCode])).toEqual([
      ["echo", "ok", null],
      ["echo", "error", "-32600"],
    ])
    expect(records[0]!.requestBytes).toBe(Buffer.byteLength(JSON.stringify(call(1, "echo", { text: "a" }))))

    app.probe.held.get("t")?.()
    await held.ended
    const [release] = await recordsAfter(3, 1)
    expect(release).toMatchObject({ method: "tools/call", name: "hold", outcome: "ok" })
  })

  it("records a call its client cancelled as cancelled, once", async () => {
    app = await startGrantsApp()
    const session = await openSession(app.endpoint(), TOKEN)
    const held = readStream(
      await postIn(app.endpoint(), session, TOKEN, {
        ...call(9, "hold", { tag: "c" }),
        params: { name: "hold", arguments: { tag: "c" }, _meta: { progressToken: 9 } },
      }),
    )
    while (!app.probe.held.has("c")) await new Promise((resolve) => setTimeout(resolve, 5))
    const cancel = await postIn(app.endpoint(), session, TOKEN, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 9 } })
    expect(cancel.status).toBe(202)
    await held.ended
    const records = await recordsAfter(1, 2)
    await settle()
    expect(app.auditLog.records).toHaveLength(3)
    expect(records.map((r) => [r.method, r.outcome])).toEqual(
      expect.arrayContaining([
        ["tools/call", "cancelled"],
        ["notifications/cancelled", "ok"],
      ]),
    )
  })

  it("records refusals at the edge once each: no token, a bad token, a server not granted, an unknown session", async () => {
    app = await startGrantsApp()
    const token = await app.mint(SOME)
    const post = (path: string, headers: Record<string, string>) => fetch(`${app.base}${path}`, { method: "POST", headers, body: JSON.stringify(INITIALIZE) })
    const { authorization: _, ...anonymous } = mcpHeaders()
    expect((await post("/mcp-servers/fixture/mcp", anonymous)).status).toBe(401)
    expect((await post("/mcp-servers/fixture/mcp", mcpHeaders(undefined, `${token}x`))).status).toBe(401)
    expect((await post("/mcp-servers/twin/mcp", mcpHeaders(undefined, token))).status).toBe(403)
    expect((await postIn(app.endpoint(), "no-such-session", token, call(1, "echo"))).status).toBe(404)

    const records = await auditRecords(app.auditLog, 4)
    await settle()
    expect(app.auditLog.records).toHaveLength(4)
    expect(records.map((r) => [r.caller.kind, r.server, r.method, r.outcome, r.errorCode])).toEqual([
      ["anonymous", "fixture", "POST", "denied", "unauthorized"],
      ["anonymous", "fixture", "POST", "denied", "invalid_token"],
      ["agent", "twin", "initialize", "denied", "insufficient_scope"],
      ["agent", "fixture", "tools/call", "error", expect.any(String)],
    ])
    expect(JSON.stringify(records)).not.toContain(token)
  })

  it("records a notification stream once, when it ends", async () => {
    app = await startGrantsApp()
    const session = await openSession(app.endpoint(), TOKEN)
    const stream = await listen(app.endpoint(), session, TOKEN)
    expect(stream.status).toBe(200)
    await fetch(app.endpoint(), { method: "DELETE", headers: mcpHeaders(session) })
    await stream.ended
    const records = await recordsAfter(1, 2)
    expect(records.map((r) => [r.method, r.outcome, r.sessionId]).sort()).toEqual([
      ["DELETE", "ok", session],
      ["GET", "ok", session],
    ])
    expect(await answerOf(await postIn(app.endpoint(), session, TOKEN, call(1, "echo")))).toMatchObject({ error: {} })
  })

  it("records no session for a 2026-07-28 notification, whatever Mcp-Session-Id it claims (another session's included)", async () => {
    app = await startGrantsApp()
    const theirs = await openSession(app.endpoint(), TOKEN)
    const token = await app.mint(SOME, { sub: "agent-7" })
    for (const claimed of [theirs, "made-up-session"]) {
      const note = await fetch(app.endpoint(), {
        method: "POST",
        headers: { ...mcpHeaders(claimed, token), "mcp-protocol-version": "2026-07-28", "mcp-method": "notifications/cancelled" },
        body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1 } }),
      })
      expect(note.status).toBe(202)
    }
    const records = await recordsAfter(1, 2)
    expect(records.map((r) => [r.caller.kind, r.method, r.outcome, r.sessionId])).toEqual([
      ["agent", "notifications/cancelled", "ok", null],
      ["agent", "notifications/cancelled", "ok", null],
    ])
  })
})
