import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type { AuditQuery } from "../audit/auditQuery.ts"
import type { AuditRecord } from "../audit/AuditRecord.ts"
import { token, type Token } from "../Token.ts"

/** The audit could not be read (`unreadable`: permissions, I/O). Quotes no record. */
export class AuditLogUnreadable extends Data.TaggedError("AuditLogUnreadable")<{
  readonly detail: string
}> {
  override get message(): string {
    return `The audit log could not be read: ${this.detail}`
  }
}

/** Somewhere audit records go: a log that keeps them, or a copy sent elsewhere (the backend). */
export interface AuditSink {
  /**
   * Takes one record, in the order of the calls. Never fails and never waits for I/O: the request
   * being recorded is not slowed or failed by the audit. A record that cannot be kept (a full
   * buffer, a failed write) is counted where the sink says, never retried into unbounded memory.
   */
  record(record: AuditRecord): Effect.Effect<void>
}

/** Keeps audit records and reads the newest back. */
export interface AuditLog extends AuditSink {
  /**
   * The newest records that match the query, newest first, at most its limit (1 to 1000). Sees
   * every record taken before the call. Fails `AuditLogUnreadable` when what is kept cannot be
   * read; a damaged record is skipped, never answered.
   */
  query(query: AuditQuery): Effect.Effect<ReadonlyArray<AuditRecord>, AuditLogUnreadable>
}

export const AuditLog: Token<AuditLog> = token("dtma/AuditLog")
