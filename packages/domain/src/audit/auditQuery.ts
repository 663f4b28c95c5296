import type { AuditRecord } from "./AuditRecord.ts"

export const MAX_AUDIT_QUERY_LIMIT = 1000

/** Which records an operator asks for: all of them, or one agent's, one server's, those since a time. */
export interface AuditQuery {
  /** Only this agent's requests (`caller.sub`); operator and anonymous requests never match. */
  readonly agentId?: string | undefined
  /** Only requests that addressed this instance. */
  readonly server?: string | undefined
  /** Only records answered at or after this time (unix ms). */
  readonly since?: number | undefined
  /** At most this many (1 to 1000; outside, the nearest bound). */
  readonly limit: number
}

/** The query's limit, within 1 and `MAX_AUDIT_QUERY_LIMIT`. */
export const limitOf = (query: AuditQuery): number =>
  Number.isFinite(query.limit) ? Math.min(Math.max(Math.trunc(query.limit), 1), MAX_AUDIT_QUERY_LIMIT) : MAX_AUDIT_QUERY_LIMIT

/** Whether the record is one the query asks for (its limit aside). */
export const matchesAuditQuery = (record: AuditRecord, query: AuditQuery): boolean =>
  (query.agentId === undefined || (record.caller.kind === "agent" && record.caller.sub === query.agentId)) &&
  (query.server === undefined || record.server === query.server) &&
  (query.since === undefined || Date.parse(record.time) >= query.since)

/** How far back the clock may have been set between two records without `since` missing any. */
export const CLOCK_STEP_ALLOWANCE_MS = 5 * 60_000

/**
 * Whether every record kept before this one is too old for the query, so a reader going newest
 * first may stop. Records are kept in the order they were answered, so their times only fall going
 * back, unless the clock was set back: the search goes on for `CLOCK_STEP_ALLOWANCE_MS` more.
 */
export const olderThanAsked = (record: AuditRecord, query: AuditQuery): boolean =>
  query.since !== undefined && Date.parse(record.time) < query.since - CLOCK_STEP_ALLOWANCE_MS

/**
 * The answer to `query` from records in the order they were kept (oldest first): the newest that
 * match, newest first, at most its limit.
 */
export const answerAuditQuery = (kept: ReadonlyArray<AuditRecord>, query: AuditQuery): ReadonlyArray<AuditRecord> => {
  const limit = limitOf(query)
  const found: Array<AuditRecord> = []
  for (let i = kept.length - 1; i >= 0 && found.length < limit; i--) {
    const record = kept[i]!
    if (olderThanAsked(record, query)) break
    if (matchesAuditQuery(record, query)) found.push(record)
  }
  return found
}
