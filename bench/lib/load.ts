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
}

/**
 * Runs every client in a closed loop (each starts its next operation when the last is answered):
 * `warmupMs` unmeasured, then `durationMs` measured. An operation that throws counts as an error;
 * the loop goes on.
 */
export const closedLoop = async (
  clients: ReadonlyArray<Operation>,
  options: { readonly warmupMs: number; readonly durationMs: number },
): Promise<LoadResult> => {
  const start = performance.now()
  const measureFrom = start + options.warmupMs
  const measureTo = measureFrom + options.durationMs
  const latencies: Array<number> = []
  let errors = 0
  let firstError: string | null = null
  const loop = async (operation: Operation, client: number): Promise<void> => {
    for (let i = 0; performance.now() < measureTo; i++) {
      const t0 = performance.now()
      try {
        await operation(client * 1_000_000 + i)
      } catch (error) {
        errors++
        firstError ??= String(error)
        continue
      }
      const t1 = performance.now()
      if (t0 >= measureFrom && t1 <= measureTo) latencies.push(t1 - t0)
    }
  }
  await Promise.all(clients.map((operation, i) => loop(operation, i)))
  return {
    clients: clients.length,
    latencyMs: summarize(latencies),
    perSecond: latencies.length / (options.durationMs / 1000),
    errors,
    firstError,
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
