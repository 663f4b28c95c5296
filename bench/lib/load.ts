import { performance } from "node:perf_hooks"
import { summarize, type Summary } from "./stats.ts"

/** One closed-loop client: does one operation and resolves when it is answered. */
export type Operation = (sequence: number) => Promise<void>

export interface LoadResult {
  readonly clients: number
  /** Latency of the operations that started and ended inside the measured window, in ms. */
  readonly latencyMs: Summary
  /** Operations completed per second in the measured window. */
  readonly perSecond: number
  readonly errors: number
  readonly firstError: string | null
  /** What the probe measured over the measured window (absent without a probe). */
  readonly probed?: number
}

/** Started when a measured window opens, read when it closes: e.g. the server's CPU time over the window. */
export type Probe = () => () => number

interface LoopOptions {
  readonly warmupMs: number
  readonly durationMs: number
  readonly probe?: Probe
}

interface Samples {
  readonly latencies: Array<number>
  errors: number
  firstError: string | null
  probed?: number
}

/**
 * Runs `probe` from `fromMs` to `toMs` from now, on timers (the clients keep running across both
 * ends); `finish` reads it then if the loop ended first.
 */
const probeWindow = (probe: Probe | undefined, fromMs: number, toMs: number) => {
  if (probe === undefined) return { finish: (): number | undefined => undefined }
  let read: (() => number) | undefined
  let probed: number | undefined
  const opens = setTimeout(() => {
    read = probe()
  }, fromMs)
  const closes = setTimeout(() => {
    probed = read?.()
  }, toMs)
  return {
    finish: (): number | undefined => {
      clearTimeout(opens)
      clearTimeout(closes)
      return probed ?? read?.()
    },
  }
}

/** The closed loop itself: the latencies of operations that started and ended in the measured window. */
const runLoop = async (clients: ReadonlyArray<Operation>, options: LoopOptions): Promise<Samples> => {
  const start = performance.now()
  const measureFrom = start + options.warmupMs
  const measureTo = measureFrom + options.durationMs
  const samples: Samples = { latencies: [], errors: 0, firstError: null }
  const probing = probeWindow(options.probe, options.warmupMs, options.warmupMs + options.durationMs)
  const loop = async (operation: Operation, client: number): Promise<void> => {
    for (let i = 0; performance.now() < measureTo; i++) {
      const t0 = performance.now()
      try {
        await operation(client * 1_000_000 + i)
      } catch (error) {
        samples.errors++
        samples.firstError ??= String(error)
        continue
      }
      const t1 = performance.now()
      if (t0 >= measureFrom && t1 <= measureTo) samples.latencies.push(t1 - t0)
    }
  }
  await Promise.all(clients.map((operation, i) => loop(operation, i)))
  const probed = probing.finish()
  if (probed !== undefined) samples.probed = probed
  return samples
}

const resultOf = (clients: number, samples: Samples, durationMs: number): LoadResult => ({
  clients,
  latencyMs: summarize(samples.latencies),
  perSecond: samples.latencies.length / (durationMs / 1000),
  errors: samples.errors,
  firstError: samples.firstError,
  ...(samples.probed === undefined ? {} : { probed: samples.probed }),
})

/**
 * Runs every client in a closed loop (each starts its next operation when the last is answered):
 * `warmupMs` unmeasured, then `durationMs` measured. An operation that throws counts as an error;
 * the loop goes on. `probe`, when given, is started when the measured window opens and read when it
 * closes (`probed`).
 */
export const closedLoop = async (clients: ReadonlyArray<Operation>, options: LoopOptions): Promise<LoadResult> =>
  resultOf(clients.length, await runLoop(clients, options), options.durationMs)

/** Two ways of doing the same operations, measured in turns. */
export interface Alternated {
  readonly a: LoadResult
  readonly b: LoadResult
  readonly rounds: number
  /** The median over rounds of (b's p50 − a's p50) within the round, in ms. */
  readonly medianRoundDifferenceMs: number
  /** What `probe` measured over each arm's segments, summed (absent without a probe). */
  readonly probed?: { readonly a: number; readonly b: number }
}

/**
 * Measures arms `a` and `b` (as many clients each) in turns: after one warm-up of each, `rounds`
 * rounds of `segmentMs` of one then of the other (which goes first alternates), latencies pooled
 * per arm. A drift of the machine (load, a collection, Docker) falls on both alike, so a difference
 * far smaller than the run-to-run spread of sequential runs can be seen. `probe`, when given, is
 * started before each measured segment and read after it (e.g. the server's CPU time), summed per arm.
 */
export const alternating = async (
  arms: { readonly a: ReadonlyArray<Operation>; readonly b: ReadonlyArray<Operation> },
  options: { readonly warmupMs: number; readonly segmentMs: number; readonly rounds: number; readonly probe?: Probe },
): Promise<Alternated> => {
  await runLoop(arms.a, { warmupMs: options.warmupMs, durationMs: 0 })
  await runLoop(arms.b, { warmupMs: options.warmupMs, durationMs: 0 })
  const pooled = { a: { latencies: [], errors: 0, firstError: null } as Samples, b: { latencies: [], errors: 0, firstError: null } as Samples }
  const differences: Array<number> = []
  const probed = { a: 0, b: 0 }
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? (["a", "b"] as const) : (["b", "a"] as const)
    const p50 = { a: Number.NaN, b: Number.NaN }
    for (const arm of order) {
      const read = options.probe?.()
      const samples = await runLoop(arms[arm], { warmupMs: 0, durationMs: options.segmentMs })
      probed[arm] += read?.() ?? 0
      p50[arm] = summarize(samples.latencies).p50
      pooled[arm].latencies.push(...samples.latencies)
      pooled[arm].errors += samples.errors
      pooled[arm].firstError ??= samples.firstError
    }
    differences.push(p50.b - p50.a)
  }
  const measuredMs = options.segmentMs * options.rounds
  return {
    a: resultOf(arms.a.length, pooled.a, measuredMs),
    b: resultOf(arms.b.length, pooled.b, measuredMs),
    rounds: options.rounds,
    medianRoundDifferenceMs: summarize(differences).p50,
    ...(options.probe === undefined ? {} : { probed }),
  }
}

/** Runs `task` on every item with at most `limit` at once; results in input order. */
export const mapLimit = async <T, R>(items: ReadonlyArray<T>, limit: number, task: (item: T, index: number) => Promise<R>): Promise<Array<R>> => {
  const results: Array<R> = Array.from({ length: items.length })
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await task(items[i] as T, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}
