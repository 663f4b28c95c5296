import { auditRecordOf } from "@dtma/domain"
import { describe, expect, it } from "vitest"
import { auditLogContract, failureOf, InMemoryAuditLog, run } from "../../src/index.ts"

auditLogContract("InMemoryAuditLog", async () => {
  const log = new InMemoryAuditLog()
  return { log, reopen: async () => log.reopen(), damage: async () => log.damage() }
})

describe("InMemoryAuditLog", () => {
  it("fails a query on demand as unreadable, then answers again", async () => {
    const log = new InMemoryAuditLog()
    await run(log.record(auditRecordOf({ time: 1, route: "/mcp", outcome: "ok" })))
    log.failNextQuery()
    expect(await failureOf(log.query({ limit: 1 }))).toMatchObject({ _tag: "AuditLogUnreadable" })
    expect(await run(log.query({ limit: 1 }))).toHaveLength(1)
  })

  it("forgets the oldest records past its capacity, as rotation does", async () => {
    const log = new InMemoryAuditLog({ capacity: 2 })
    for (const time of [1, 2, 3]) await run(log.record(auditRecordOf({ time, route: "/mcp", outcome: "ok" })))
    expect(log.records.map((r) => r.time)).toEqual([new Date(2).toISOString(), new Date(3).toISOString()])
  })
})
