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
