import { sessionLost, type Failure } from "./clientPool.ts"
import type { FaultRecord } from "./faults/types.ts"

/** A span during which calls to `server` may fail: from a fault's injection until it recovered, plus the settle margin. */
export interface FaultWindow {
  readonly server: string
  readonly kind: string
  readonly start: number
  readonly end: number
}

/**
 * Every fault's windows: one per affected server, from the injection to that server's recovery
 * plus `marginMs`. An unrecovered server's window ends `recoveryTimeoutMs` after the injection,
 * so its failures afterwards count as lost.
 */
export const windowsOf = (faults: ReadonlyArray<FaultRecord>, marginMs: number, recoveryTimeoutMs: number): ReadonlyArray<FaultWindow> =>
  faults.flatMap((f) =>
    f.affected.map((a) => ({ server: a.server, kind: f.kind, start: f.injectedAt, end: (a.recoveredAt ?? f.injectedAt + recoveryTimeoutMs) + marginMs })),
  )

/** Whether a failed attempt overlaps one of its server's fault windows. */
export const inWindow = (failure: Failure, windows: ReadonlyArray<FaultWindow>): boolean =>
  windows.some((w) => w.server === failure.server && failure.start <= w.end && failure.end >= w.start)

/**
 * Whether a failure is a restarted DTMA not knowing a session its predecessor opened (404 "Session
 * not found"): sessions live in the DTMA's memory, so a SIGKILL ends them all, and a client learns
 * it on its next call, however late (one whose call was in flight at the kill waits out its own
 * request timeout first).
 */
export const staleSession = (failure: Failure, dtmaKills: ReadonlyArray<number>): boolean =>
  failure.sessionSince !== null && sessionLost(failure.error) && dtmaKills.some((t) => t > failure.sessionSince! && t <= failure.start)

/** Splits failures into those a fault explains (its window, or a session a killed DTMA forgot) and the lost ones. */
export const classify = (
  failures: ReadonlyArray<Failure>,
  windows: ReadonlyArray<FaultWindow>,
  dtmaKills: ReadonlyArray<number> = [],
): { readonly explained: ReadonlyArray<Failure>; readonly lost: ReadonlyArray<Failure> } => {
  const explains = (f: Failure) => inWindow(f, windows) || staleSession(f, dtmaKills)
  return { explained: failures.filter(explains), lost: failures.filter((f) => !explains(f)) }
}

/**
 * What explains each explained failure, counted: the kinds of the fault windows it overlaps
 * (joined with `+` when several do), or `stale-session` for a session a killed DTMA forgot.
 */
export const explainedByKind = (explained: ReadonlyArray<Failure>, windows: ReadonlyArray<FaultWindow>): Readonly<Record<string, number>> => {
  const counts: Record<string, number> = {}
  for (const f of explained) {
    const kinds = [...new Set(windows.filter((w) => w.server === f.server && f.start <= w.end && f.end >= w.start).map((w) => w.kind))].sort()
    const key = kinds.length === 0 ? "stale-session" : kinds.join("+")
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

/** Median (lower middle for an even count) and max of a list; null for an empty one. */
export const medianMax = (values: ReadonlyArray<number>): { readonly count: number; readonly median: number | null; readonly max: number | null } => {
  const sorted = [...values].sort((a, b) => a - b)
  return { count: sorted.length, median: sorted.length === 0 ? null : sorted[Math.floor((sorted.length - 1) / 2)]!, max: sorted.at(-1) ?? null }
}

/** Per fault kind: how many were injected, how many never recovered, and recovery times (injection → healthy and a call answered). */
export const recoveryByKind = (faults: ReadonlyArray<FaultRecord>) => {
  const kinds = [...new Set(faults.map((f) => f.kind))].sort()
  return Object.fromEntries(
    kinds.map((kind) => {
      const of = faults.filter((f) => f.kind === kind)
      const times = of.flatMap((f) =>
        f.affected.every((a) => a.recoveredAt !== null) ? [Math.max(...f.affected.map((a) => a.recoveredAt!)) - f.injectedAt] : [],
      )
      const unrecovered = of.filter((f) => f.affected.some((a) => a.recoveredAt === null)).length
      return [kind, { injected: of.length, unrecovered, recoveryMs: medianMax(times) }]
    }),
  )
}
