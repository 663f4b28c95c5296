import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { arbAuditRecord, arbAuditRecordInput, arbGrants, arbSecretLike } from "@dtma/testing"
import { auditCallerOf, auditRecordOf, parseAuditRecord, type AgentIdentity, type AuditRecordInput } from "../../src/index.ts"

const FIELDS = [
  "caller",
  "durationMs",
  "errorCode",
  "method",
  "name",
  "outcome",
  "requestBytes",
  "responseBytes",
  "route",
  "server",
  "sessionId",
  "time",
  "traceId",
]

const T = 1_780_000_000_000
const base: AuditRecordInput = { time: T, route: "/mcp-servers/:name/mcp", outcome: "ok" }

describe("auditRecordOf", () => {
  it("keeps exactly the audit's fields, whatever else its input carries: no argument, result, body or token", () => {
    fc.assert(
      fc.property(arbAuditRecordInput, arbSecretLike, (input, secret) => {
        const carrying = {
          ...input,
          arguments: { query: secret },
          result: { content: [{ type: "text", text: secret }] },
          body: secret,
          authorization: `Bearer ${secret}`,
          token: secret,
          caller: input.caller?.kind === "agent" ? { ...input.caller, token: secret, grants: { raw: secret } } : input.caller,
        } as AuditRecordInput
        const record = auditRecordOf(carrying)
        expect(Object.keys(record).sort()).toEqual(FIELDS)
        expect(JSON.stringify(record)).not.toContain(secret)
      }),
    )
  })

  it("keeps of an agent its id and token id only, never its grants or times", () => {
    fc.assert(
      fc.property(arbGrants, (grants) => {
        const agent: AgentIdentity = { kind: "agent", sub: "agent-7", jti: "tok-1", issuer: "dtma", issuedAt: T, expiresAt: T + 900_000, grants }
        expect(auditRecordOf({ ...base, caller: agent }).caller).toEqual({ kind: "agent", sub: "agent-7", jti: "tok-1" })
      }),
    )
  })

  it("keeps an operator's fingerprint only when it has a fingerprint's form, so a key handed in by mistake never lands", () => {
    fc.assert(
      fc.property(arbSecretLike, (key) => {
        expect(auditCallerOf({ kind: "operator", fingerprint: key })).toEqual({ kind: "operator", fingerprint: "invalid" })
      }),
    )
    expect(auditCallerOf({ kind: "operator", fingerprint: "0123456789ab" })).toEqual({ kind: "operator", fingerprint: "0123456789ab" })
  })

  it("calls a request without a recognised credential anonymous", () => {
    expect(auditRecordOf(base).caller).toEqual({ kind: "anonymous" })
    expect(auditCallerOf(null)).toEqual({ kind: "anonymous" })
    expect(auditCallerOf({ kind: "agent", sub: "", jti: null })).toEqual({ kind: "anonymous" })
  })

  it.each([
    ["file:///data/report.txt?token=abc123secret#frag", "file:///data/report.txt"],
    ["https://user:pa55word@example.com/doc?sig=xyz", "https://example.com/doc"],
    ["memo://notes/1", "memo://notes/1"],
    ["read_graph", "read_graph"],
    ["search?all", "search?all"],
  ])("keeps of the name %j only %j: a URI's query, fragment and user info may carry a credential", (name, kept) => {
    expect(auditRecordOf({ ...base, name }).name).toBe(kept)
  })

  it("caps texts and makes them printable", () => {
    const record = auditRecordOf({ ...base, name: "x".repeat(1000), method: "tools/\u0000call\n", route: "/r".repeat(200) })
    expect(record.name).toHaveLength(256)
    expect(record.name?.endsWith("…")).toBe(true)
    expect(record.method).toBe("tools/?call?")
    expect(record.route.length).toBeLessThanOrEqual(128)
  })

  it("keeps codes, session and trace ids only in their form, a server only when it is an instance name", () => {
    const odd = auditRecordOf({ ...base, errorCode: "no such thing: it failed", sessionId: "bad id\n", traceId: "0".repeat(32), server: "a/b" })
    expect(odd).toMatchObject({ errorCode: null, sessionId: null, traceId: null, server: null })
    const good = auditRecordOf({ ...base, errorCode: -32601, sessionId: "sess-1", traceId: "4bf92f3577b34da6a3ce929d0e0e4736", server: "memory" })
    expect(good).toMatchObject({ errorCode: "-32601", sessionId: "sess-1", traceId: "4bf92f3577b34da6a3ce929d0e0e4736", server: "memory" })
  })

  it("gives numbers that are finite and not negative, durations to the microsecond", () => {
    const record = auditRecordOf({ ...base, durationMs: 1.23456, requestBytes: -5, responseBytes: Number.NaN, time: Number.NaN })
    expect(record).toMatchObject({ durationMs: 1.235, requestBytes: 0, responseBytes: 0, time: "1970-01-01T00:00:00.000Z" })
    expect(auditRecordOf({ ...base, durationMs: Number.POSITIVE_INFINITY }).durationMs).toBe(0)
  })

  it("stamps the time in ISO 8601, UTC, to the millisecond", () => {
    expect(auditRecordOf({ ...base, time: T }).time).toBe(new Date(T).toISOString())
  })
})

describe("parseAuditRecord", () => {
  it("reads back exactly the record that was written", () => {
    fc.assert(
      fc.property(arbAuditRecord, (record) => {
        expect(parseAuditRecord(JSON.parse(JSON.stringify(record)))).toEqual(record)
      }),
    )
  })

  it("refuses what is not a record, and lets no extra key of an edited line through", () => {
    fc.assert(
      fc.property(arbAuditRecord, arbSecretLike, (record, secret) => {
        const edited = parseAuditRecord({ ...record, arguments: secret })
        expect(JSON.stringify(edited)).not.toContain(secret)
      }),
    )
    for (const bad of [
      null,
      [],
      "x",
      { ...auditRecordOf(base), time: "yesterday" },
      { ...auditRecordOf(base), outcome: "fine" },
      { ...auditRecordOf(base), caller: 1 },
    ]) {
      expect(parseAuditRecord(bad)).toBeNull()
    }
  })
})
