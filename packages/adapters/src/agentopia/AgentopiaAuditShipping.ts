import * as Effect from "effect/Effect"
import * as Latch from "effect/Latch"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import type { AuditRecord, AuditSink } from "@dtma/domain"
import { isTransientStatus, postToBackend, type BackendEndpoint } from "./backendPost.ts"

export const DEFAULT_AUDIT_PATH = "dtma-audit"

export interface AgentopiaAuditShippingOptions extends BackendEndpoint {
  /** The backend function taking batches, under `baseUrl` (`DTMA_AUDIT_PATH`); default `dtma-audit`. */
  readonly path?: string
  /** Records waiting at most; past it the oldest are dropped and counted. Default 10,000. */
  readonly maxQueued?: number
  /** Records in one POST at most. Default 200. */
  readonly batchSize?: number
  /** How long records wait for more before they go, unless a full batch is ready. Default 5 s. */
  readonly intervalMs?: number
  /** First wait after a failed delivery; doubles each failure in a row, up to `retryMaxMs`. */
  readonly retryBaseMs?: number
  readonly retryMaxMs?: number
  /** How long the last deliveries may take when the DTMA stops. Default 5 s. */
  readonly finalFlushMs?: number
  /** A batch was not delivered: how many records, why (a status or the error's words), never their content. */
  readonly onProblem?: (problem: { readonly kind: "unavailable" | "rejected"; readonly records: number; readonly detail: string }) => void
}

/** Why records were dropped: the queue was full (oldest first), or the backend refused their batch (4xx). */
export type AuditDropReason = "queue_full" | "rejected"

export interface AuditShippingStats {
  readonly queued: number
  readonly delivered: number
  readonly dropped: Readonly<Record<AuditDropReason, number>>
}

export interface AgentopiaAuditShipping extends AuditSink {
  stats(): AuditShippingStats
}

type Outcome = { readonly kind: "delivered" } | { readonly kind: "unavailable" | "rejected"; readonly detail: string }

/**
 * Audit records, copied to the backend in batches: `POST {baseUrl}/{path}` with the DTMA's bearer
 * token and the body `{"records":[…]}` (records only). A bounded queue keeps them while the backend
 * is down (network, timeout, 5xx, 408, 429: retried with backoff, in order); a batch it refuses
 * (other 4xx) is dropped and counted, never retried. Lives in `scope`: closing it makes one last,
 * bounded attempt at what is queued.
 */
export const makeAgentopiaAuditShipping = (options: AgentopiaAuditShippingOptions): Effect.Effect<AgentopiaAuditShipping, never, Scope.Scope> =>
  Effect.gen(function* () {
    const path = options.path ?? DEFAULT_AUDIT_PATH
    const maxQueued = Math.max(options.maxQueued ?? 10_000, 1)
    const batchSize = Math.max(options.batchSize ?? 200, 1)
    const intervalMs = options.intervalMs ?? 5_000
    const retryBaseMs = options.retryBaseMs ?? 1_000
    const retryMaxMs = options.retryMaxMs ?? 60_000
    const queue: Array<AuditRecord> = []
    const dropped: Record<AuditDropReason, number> = { queue_full: 0, rejected: 0 }
    let delivered = 0
    let inFlight: ReadonlyArray<AuditRecord> = []
    const fullBatch = Latch.makeUnsafe(false)

    const withoutToken = (text: string): string => text.replaceAll(Redacted.value(options.token), "<redacted>")
    const trim = (): void => {
      const over = queue.length - maxQueued
      if (over <= 0) return
      queue.splice(0, over)
      dropped.queue_full += over
    }

    const post = (batch: ReadonlyArray<AuditRecord>): Effect.Effect<Outcome> =>
      postToBackend(options, path, { records: batch }).pipe(
        Effect.map(({ status, statusText }): Outcome => {
          if (status >= 200 && status < 300) return { kind: "delivered" }
          const detail = withoutToken(`${status} ${statusText}`.trim())
          return isTransientStatus(status) ? { kind: "unavailable", detail } : { kind: "rejected", detail }
        }),
        Effect.catch((e) => Effect.succeed<Outcome>({ kind: "unavailable", detail: withoutToken(e.detail) })),
      )

    /** Sends the oldest batch; what was not delivered is back at the front of the queue, or dropped. */
    const sendOne = Effect.gen(function* () {
      const batch = queue.splice(0, batchSize)
      inFlight = batch
      const outcome = yield* post(batch)
      inFlight = []
      if (outcome.kind === "delivered") delivered += batch.length
      else {
        options.onProblem?.({ kind: outcome.kind, records: batch.length, detail: outcome.detail })
        if (outcome.kind === "rejected") dropped.rejected += batch.length
        else {
          queue.unshift(...batch)
          trim()
        }
      }
      return outcome.kind
    })

    const loop = Effect.gen(function* () {
      let failures = 0
      while (true) {
        if (queue.length < batchSize) yield* Effect.raceFirst(Effect.sleep(intervalMs), fullBatch.await)
        Latch.closeUnsafe(fullBatch)
        while (queue.length > 0) {
          if ((yield* sendOne) !== "unavailable") failures = 0
          else {
            failures += 1
            const wait = Math.min(retryBaseMs * 2 ** Math.min(failures - 1, 30), retryMaxMs)
            yield* Effect.sleep(wait / 2 + Math.random() * (wait / 2))
          }
        }
      }
    })

    /** At shutdown: a batch cut off in flight goes back (it may arrive twice), then each batch once, stopping at the first failure. */
    const lastDeliveries = Effect.gen(function* () {
      queue.unshift(...inFlight)
      inFlight = []
      trim()
      while (queue.length > 0) if ((yield* sendOne) !== "delivered") return
    }).pipe(Effect.timeout(options.finalFlushMs ?? 5_000), Effect.ignore)

    const scope = yield* Effect.scope
    // Added before the loop is forked, so it runs after the loop has been interrupted.
    yield* Scope.addFinalizer(scope, lastDeliveries)
    yield* Effect.forkIn(loop, scope)

    return {
      record: (record: AuditRecord) =>
        Effect.sync(() => {
          queue.push(record)
          trim()
          if (queue.length >= batchSize) Latch.openUnsafe(fullBatch)
        }),
      stats: () => ({ queued: queue.length + inFlight.length, delivered, dropped: { ...dropped } }),
    }
  })
