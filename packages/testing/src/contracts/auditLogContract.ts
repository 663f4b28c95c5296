import * as Effect from "effect/Effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { answerAuditQuery, auditRecordOf, MAX_AUDIT_QUERY_LIMIT, type AuditLog, type AuditQuery, type AuditRecord } from "@dtma/domain"
import { arbAuditRecords } from "../arbAudit.ts"
import { run } from "../effects.ts"
import { freshSubject } from "./freshSubject.ts"

/** An audit log under test, with a way to restart it and to damage what it keeps. */
export interface AuditLogSubject {
  readonly log: AuditLog
  /** A new log on the same place, as after a DTMA restart (the old one is done with). */
  reopen(): Promise<AuditLog>
  /** Adds something that is not a record after what is kept (for a file: a torn line). */
  damage(): Promise<void>
  readonly cleanup?: () => Promise<void>
}

const arbQuery: fc.Arbitrary<AuditQuery> = fc.record({
  agentId: fc.option(fc.constantFrom("agent-1", "agent-2"), { nil: undefined }),
  server: fc.option(fc.constantFrom("memory", "fs"), { nil: undefined }),
  since: fc.option(fc.integer({ min: 1_779_999_000_000, max: 1_780_002_000_000 }), { nil: undefined }),
  limit: fc.integer({ min: 1, max: 25 }),
})

const at = (time: number, server = "memory"): AuditRecord =>
  auditRecordOf({ time, route: "/mcp-servers/:name/mcp", server, method: "tools/call", outcome: "ok" })

const recordAll = (log: AuditLog, records: ReadonlyArray<AuditRecord>) => run(Effect.forEach(records, (r) => log.record(r), { discard: true }))

/** Behaviour every AuditLog must have; run on the in-memory fake and on the file adapter. */
export const auditLogContract = (label: string, setup: () => Promise<AuditLogSubject>): void => {
  describe(`AuditLog contract: ${label}`, () => {
    const withSubject = freshSubject(setup)

    it(
      "answers no records when none were taken",
      withSubject(async (s) => {
        expect(await run(s.log.query({ limit: 10 }))).toEqual([])
      }),
    )

    it(
      "answers a record as soon as it was taken, newest first",
      withSubject(async (s) => {
        const records = [at(1_780_000_000_000), at(1_780_000_001_000, "fs"), at(1_780_000_002_000)]
        await recordAll(s.log, records)
        expect(await run(s.log.query({ limit: 10 }))).toEqual([...records].reverse())
      }),
    )

    it("answers every query as the plain filter of the records taken, newest first, within its limit", async () => {
      await fc.assert(
        fc.asyncProperty(arbAuditRecords({ maxLength: 25 }), fc.array(arbQuery, { minLength: 1, maxLength: 4 }), async (records, queries) => {
          const s = await setup()
          try {
            await recordAll(s.log, records)
            for (const query of queries) expect(await run(s.log.query(query))).toEqual(answerAuditQuery(records, query))
          } finally {
            await s.cleanup?.()
          }
        }),
        { numRuns: 30 },
      )
    })

    it(
      "keeps its records across a restart",
      withSubject(async (s) => {
        const records = [at(1_780_000_000_000), at(1_780_000_001_000)]
        await recordAll(s.log, records)
        const reopened = await s.reopen()
        expect(await run(reopened.query({ limit: 10 }))).toEqual([...records].reverse())
        const later = at(1_780_000_002_000)
        await run(reopened.record(later))
        expect(await run(reopened.query({ limit: 1 }))).toEqual([later])
      }),
    )

    it(
      "skips a damaged record and answers the others",
      withSubject(async (s) => {
        const first = at(1_780_000_000_000)
        await run(s.log.record(first))
        await s.damage()
        const reopened = await s.reopen()
        const last = at(1_780_000_001_000)
        await run(reopened.record(last))
        expect(await run(reopened.query({ limit: 10 }))).toEqual([last, first])
      }),
    )

    it(
      "answers at most 1000 records, whatever limit is asked",
      withSubject(async (s) => {
        const records = Array.from({ length: MAX_AUDIT_QUERY_LIMIT + 5 }, (_, i) => at(1_780_000_000_000 + i))
        await recordAll(s.log, records)
        const answer = await run(s.log.query({ limit: 5000 }))
        expect(answer).toHaveLength(MAX_AUDIT_QUERY_LIMIT)
        expect(answer[0]).toEqual(records.at(-1))
      }),
    )
  })
}
