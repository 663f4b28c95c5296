import * as Effect from "effect/Effect"
import { answerAuditQuery, AuditLogUnreadable, type AuditLog, type AuditQuery, type AuditRecord } from "@dtma/domain"

/** Where the fake keeps records: shared by a log and its `reopen()`, as a file outlives a process. */
interface Place {
  readonly kept: Array<AuditRecord | "damaged">
}

/**
 * A stand-in for `FileAuditLog`: keeps every record in memory, in order (at most `capacity`, the
 * oldest forgotten first, as rotation does), answers queries from them, skips a `damage()`d entry
 * as the file skips a bad line, and fails the next queries `unreadable` after `failNextQuery()`.
 */
export class InMemoryAuditLog implements AuditLog {
  readonly #place: Place
  readonly #capacity: number
  #failQueries = 0

  constructor(options: { readonly capacity?: number; readonly place?: Place } = {}) {
    this.#place = options.place ?? { kept: [] }
    this.#capacity = options.capacity ?? 100_000
  }

  /** A new log on the same records: a restart. */
  reopen(): InMemoryAuditLog {
    return new InMemoryAuditLog({ capacity: this.#capacity, place: this.#place })
  }

  /** Every record kept, oldest first. */
  get records(): ReadonlyArray<AuditRecord> {
    return this.#place.kept.filter((r): r is AuditRecord => r !== "damaged")
  }

  /** Forgets every record (between the cases of a property test). */
  clear(): void {
    this.#place.kept.length = 0
  }

  /** Adds an entry that is not a record, as a torn or edited line in a file. */
  damage(): void {
    this.#place.kept.push("damaged")
  }

  failNextQuery(times = 1): void {
    this.#failQueries += times
  }

  record(record: AuditRecord): Effect.Effect<void> {
    return Effect.sync(() => {
      this.#place.kept.push(record)
      if (this.#place.kept.length > this.#capacity) this.#place.kept.splice(0, this.#place.kept.length - this.#capacity)
    })
  }

  query(query: AuditQuery): Effect.Effect<ReadonlyArray<AuditRecord>, AuditLogUnreadable> {
    return Effect.suspend(() => {
      if (this.#failQueries > 0) {
        this.#failQueries -= 1
        return Effect.fail(new AuditLogUnreadable({ detail: "injected failure" }))
      }
      return Effect.succeed(answerAuditQuery(this.records, query))
    })
  }
}
