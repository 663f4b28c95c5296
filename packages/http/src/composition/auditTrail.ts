import * as Effect from "effect/Effect"
import { AUDIT_OUTCOMES, type AuditLog, type AuditOutcome } from "@dtma/domain"
import type { AuditDropReason } from "@dtma/adapters"

/** How the audit's destinations are doing: what the file could not keep, and the backend copy's queue. */
export interface AuditDelivery {
  stats(): {
    /** Records the audit file never got (a full buffer, a failed write). */
    readonly logDropped: number
    /** The backend copy; null when no backend is configured. */
    readonly shipping: { readonly queued: number; readonly dropped: Readonly<Record<AuditDropReason, number>> } | null
  }
}

/** The audit's figures for `/metrics`. */
export interface AuditFigures {
  readonly records: Readonly<Record<AuditOutcome, number>>
  readonly logDropped: number
  readonly shippingQueued: number
  readonly shippingDropped: Readonly<Record<AuditDropReason, number>>
}

/** The audit log as the app uses it: each record counted by outcome on its way in. */
export interface AuditTrail extends AuditLog {
  figures(): AuditFigures
}

export const auditTrailOf = (log: AuditLog, delivery: AuditDelivery | null): AuditTrail => {
  const records = Object.fromEntries(AUDIT_OUTCOMES.map((o) => [o, 0])) as Record<AuditOutcome, number>
  return {
    record: (record) =>
      Effect.suspend(() => {
        records[record.outcome] += 1
        return log.record(record)
      }),
    query: (query) => log.query(query),
    figures: () => {
      const stats = delivery?.stats()
      return {
        records: { ...records },
        logDropped: stats?.logDropped ?? 0,
        shippingQueued: stats?.shipping?.queued ?? 0,
        shippingDropped: { queue_full: 0, rejected: 0, ...stats?.shipping?.dropped },
      }
    },
  }
}
