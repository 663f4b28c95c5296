import fc from "fast-check"
import { AUDIT_OUTCOMES, auditRecordOf, type AuditCaller, type AuditRecord, type AuditRecordInput } from "@dtma/domain"

/** A value shaped like a secret: a JWT, a bearer key, an API key. Long and distinctive, so a leak is found by search. */
export const arbSecretLike: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.base64String({ minLength: 16, maxLength: 40 }),
      fc.base64String({ minLength: 16, maxLength: 60 }),
      fc.base64String({ minLength: 20, maxLength: 43 }),
    )
    .map(([h, p, s]) => `eyJ${h.replace(/[=+/]/g, "x")}.eyJ${p.replace(/[=+/]/g, "y")}.${s.replace(/[=+/]/g, "z")}`),
  fc.stringMatching(/^[A-Za-z0-9_-]{24,48}$/).map((s) => `sk-secret-${s}`),
  fc.uuid().map((u) => `key-${u}-secret`),
)

const SERVERS = ["github-main", "memory", "fs", "web search"] as const
const AGENTS = ["agent-1", "agent-2", "agent-3"] as const

export const arbAuditCaller: fc.Arbitrary<AuditCaller> = fc.oneof(
  fc.record({ kind: fc.constant("agent" as const), sub: fc.constantFrom(...AGENTS), jti: fc.option(fc.uuid(), { nil: null }) }),
  fc.record({ kind: fc.constant("operator" as const), fingerprint: fc.stringMatching(/^[0-9a-f]{12}$/) }),
  fc.constant({ kind: "anonymous" as const }),
)

/** What an edge hands to `auditRecordOf`: a request on one of a few servers, by one of a few agents, at some time. */
export const arbAuditRecordInput: fc.Arbitrary<AuditRecordInput> = fc.record({
  time: fc.integer({ min: 1_780_000_000_000, max: 1_790_000_000_000 }),
  caller: arbAuditCaller,
  route: fc.constantFrom("/mcp-servers/:name/mcp", "/mcp", "/mcp-servers", "/mcp-servers/:name/start", "/tools/:name", "unmatched"),
  server: fc.option(fc.constantFrom(...SERVERS), { nil: null }),
  method: fc.option(fc.constantFrom("tools/call", "tools/list", "resources/read", "initialize", "POST", "GET", "DELETE"), { nil: null }),
  // A resource URI of a few schemes (not fc.webUrl(), which takes seconds to build).
  name: fc.option(fc.oneof(fc.stringMatching(/^[a-z_]{1,20}$/), fc.stringMatching(/^(file|memo|https):\/\/[a-z]{1,8}(\/[a-z0-9]{1,8}){0,3}$/)), { nil: null }),
  outcome: fc.constantFrom(...AUDIT_OUTCOMES),
  errorCode: fc.option(fc.oneof(fc.constantFrom("not_found", "insufficient_scope", "404"), fc.integer({ min: -32800, max: -32000 })), { nil: null }),
  durationMs: fc.double({ min: 0, max: 120_000, noNaN: true }),
  requestBytes: fc.nat({ max: 1_048_576 }),
  responseBytes: fc.nat({ max: 10_000_000 }),
  sessionId: fc.option(fc.uuid(), { nil: null }),
  traceId: fc.option(fc.stringMatching(/^[0-9a-f]{32}$/), { nil: null }),
})

export const arbAuditRecord: fc.Arbitrary<AuditRecord> = arbAuditRecordInput.map(auditRecordOf)

/** Records in the order a log would keep them: times that never go back. */
export const arbAuditRecords = (constraints: { readonly minLength?: number; readonly maxLength?: number } = {}): fc.Arbitrary<ReadonlyArray<AuditRecord>> =>
  fc
    .array(fc.tuple(arbAuditRecordInput, fc.integer({ min: 0, max: 120_000 })), {
      minLength: constraints.minLength ?? 0,
      maxLength: constraints.maxLength ?? 30,
    })
    .map((items) => {
      let time = 1_780_000_000_000
      return items.map(([input, gap]) => auditRecordOf({ ...input, time: (time += gap) }))
    })
