import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { arbAuditRecords } from "@dtma/testing"
import { answerAuditQuery, auditRecordOf, CLOCK_STEP_ALLOWANCE_MS, limitOf, matchesAuditQuery, type AuditQuery } from "../../src/index.ts"

const arbQuery: fc.Arbitrary<AuditQuery> = fc.record({
  agentId: fc.option(fc.constantFrom("agent-1", "agent-2", "nobody"), { nil: undefined }),
  server: fc.option(fc.constantFrom("memory", "fs", "nowhere"), { nil: undefined }),
  since: fc.option(fc.integer({ min: 1_779_999_000_000, max: 1_780_002_000_000 }), { nil: undefined }),
  limit: fc.integer({ min: 1, max: 40 }),
})

describe("answerAuditQuery", () => {
  it("answers the newest matching records, newest first, at most the limit: the plain filter of the records reversed", () => {
    fc.assert(
      fc.property(arbAuditRecords({ maxLength: 40 }), arbQuery, (kept, query) => {
        const expected = [...kept]
          .reverse()
          .filter((r) => matchesAuditQuery(r, query))
          .slice(0, query.limit)
        expect(answerAuditQuery(kept, query)).toEqual(expected)
      }),
    )
  })

  it("matches an agent id only on agents' requests, never an operator's or an anonymous one", () => {
    const at = (caller: Parameters<typeof auditRecordOf>[0]["caller"]) => auditRecordOf({ time: 1, route: "/mcp", outcome: "ok", caller })
    const kept = [at({ kind: "agent", sub: "a", jti: null }), at({ kind: "operator", fingerprint: "0123456789ab" }), at(null)]
    expect(answerAuditQuery(kept, { agentId: "a", limit: 10 })).toEqual([kept[0]])
  })

  it("finds records written after the clock was set back a little, and stops searching past that allowance", () => {
    const rec = (time: number, server: string) => auditRecordOf({ time, route: "/mcp", outcome: "ok", server })
    const since = 1_780_000_100_000
    const kept = [
      rec(since - CLOCK_STEP_ALLOWANCE_MS - 1, "old"),
      rec(since + 1_000, "before-step"),
      rec(since - 60_000, "after-step"),
      rec(since + 500, "new"),
    ]
    expect(answerAuditQuery(kept, { since, limit: 10 }).map((r) => r.server)).toEqual(["new", "before-step"])
  })

  it("keeps the limit between 1 and 1000", () => {
    expect([0, -3, 1, 999, 1000, 5000, Number.NaN].map((limit) => limitOf({ limit }))).toEqual([1, 1, 1, 999, 1000, 1000, 1000])
  })
})
