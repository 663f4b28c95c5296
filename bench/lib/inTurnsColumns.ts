import type { Alternated } from "./load.ts"
import { round } from "./stats.ts"

/** An in-turns run of `clients` clients per arm, in segments of `segmentMs`. */
export interface InTurnsRun extends Alternated {
  readonly clients: number
  readonly segmentMs: number
}

/**
 * The header of the columns an A/B table of in-turns runs opens with, arms named `a` and `b`:
 * clients, rounds, each arm's p50, b − a (pooled and by round), each arm's p99.
 */
export const inTurnsHeader = (a: string, b: string): Array<string> => [
  "clients",
  "rounds",
  `${a} p50 ms`,
  `${b} p50 ms`,
  `${b} − ${a} p50 ms`,
  "median round difference ms",
  `${a} p99 ms`,
  `${b} p99 ms`,
]

/** The cells of `inTurnsHeader`'s columns for one run. */
export const inTurnsCells = (x: InTurnsRun): Array<string> => [
  String(x.clients),
  `${x.rounds} × ${x.segmentMs / 1000} s each`,
  `${round(x.a.latencyMs.p50)}`,
  `${round(x.b.latencyMs.p50)}`,
  `${round(x.b.latencyMs.p50 - x.a.latencyMs.p50)}`,
  `${round(x.medianRoundDifferenceMs)}`,
  `${round(x.a.latencyMs.p99)}`,
  `${round(x.b.latencyMs.p99)}`,
]

/** Microseconds for the report, "–" when not measured. */
export const us = (value: number): string => (Number.isFinite(value) ? `${Math.round(value)}` : "–")

/** The DTMA's CPU per answered call of each arm, in µs (its CPU time is read in clock ticks: 10 ms, summed over the segments). */
export const cpuPerCallUs = (x: Alternated): { readonly a: number; readonly b: number } => {
  const per = (seconds: number | undefined, calls: number) => (seconds === undefined || calls === 0 ? Number.NaN : (seconds * 1e6) / calls)
  return { a: per(x.probed?.a, x.a.latencyMs.n), b: per(x.probed?.b, x.b.latencyMs.n) }
}

/** The header of the columns an A/B table of in-turns runs closes with: each arm's calls/s, the DTMA's CPU per call of each, errors. */
export const inTurnsRateHeader = (a: string, b: string): Array<string> => [`${a} calls/s`, `${b} calls/s`, `DTMA CPU per call µs, ${a} / ${b}`, "errors"]

/** The cells of `inTurnsRateHeader`'s columns for one run. */
export const inTurnsRateCells = (x: InTurnsRun): Array<string> => [
  `${Math.round(x.a.perSecond)}`,
  `${Math.round(x.b.perSecond)}`,
  `${us(cpuPerCallUs(x).a)} / ${us(cpuPerCallUs(x).b)}`,
  String(x.a.errors + x.b.errors),
]
