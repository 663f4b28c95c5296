import { performance } from "node:perf_hooks"
import type { Logger } from "./logger.ts"

const MB = 1024 * 1024

export interface IdleMemoryTrimOptions {
  /** One garbage collection made to give memory back. */
  readonly collect: () => void
  /** The process's resident memory, bytes. */
  readonly rss: () => number
  /** The share of the time since the last look the event loop was busy (0–1). */
  readonly busyShare: () => number
  /** Calls begun since the start: idle means none begun since the last look (a deploy waiting on Docker leaves the loop idle). */
  readonly callsBegun: () => number
  readonly logger: Pick<Logger, "info">
  /** How much RSS must have grown since the last trim (or the start) to try one; default 16 MB. */
  readonly growthBytes?: number
  /** Below this busy share the DTMA counts as idle; default 0.05. */
  readonly idleBelow?: number
}

export interface IdleMemoryTrim {
  /** One look: trims when RSS grew by `growthBytes` and the DTMA was idle since the last look. Whether it trimmed. */
  check(): boolean
}

/**
 * Gives back the memory a burst left behind once the DTMA is idle again. V8 keeps the pages its heap
 * grew into during a burst in a pool for reuse, and releases them only in a collection made to
 * reduce memory. Its memory reducer starts those only once it sees the allocation rate fall, which
 * it never sees in a process that went idle: no collection runs to sample the rate. Measured
 * (docs/performance.md, issue 16): after the bench's load figures, 263 MB of RSS, of which V8's heap
 * was 58 MB and its pooled pages 110 MB; with this, 123–125 MB.
 *
 * So, at each look, when RSS grew by `growthBytes` since the last trim (or the start) and the DTMA
 * was idle since the last look (no call begun, the event loop busy under `idleBelow`), one
 * memory-reducing collection (`gc` of flavour `last-resort`: two full collections). It stops the
 * loop while it runs (100–300 ms at a 50 MB heap on two busy cores), which is why it waits for idle;
 * it runs once per such growth, whether it gave back anything or not (the new RSS is the next
 * baseline), so memory the DTMA really holds costs one collection, not one per look. Such a
 * collection also drops the bytecode of functions not running, unless `node` runs with
 * `--no-flush-bytecode`, as `packages/http/node-flags` has it.
 */
export const makeIdleMemoryTrim = (options: IdleMemoryTrimOptions): IdleMemoryTrim => {
  const growth = options.growthBytes ?? 16 * MB
  const idleBelow = options.idleBelow ?? 0.05
  let baseline = options.rss()
  let callsBegun = options.callsBegun()
  return {
    check: () => {
      const begun = options.callsBegun()
      const idle = options.busyShare() < idleBelow && begun === callsBegun
      callsBegun = begun
      const rss = options.rss()
      if (rss - baseline < growth || !idle) {
        baseline = Math.min(baseline, rss)
        return false
      }
      const startedAt = performance.now()
      options.collect()
      baseline = options.rss()
      options.logger.info(
        { rssBeforeMB: Math.round(rss / MB), rssAfterMB: Math.round(baseline / MB), pauseMs: Math.round(performance.now() - startedAt) },
        "idle after a burst: gave memory back to the system",
      )
      return true
    },
  }
}

/**
 * `makeIdleMemoryTrim` on this process, looking every `everyMs` (default 5 s: memory is given back
 * 5–10 s after a burst), on a timer that keeps no process alive.
 */
export const startIdleMemoryTrim = (
  logger: IdleMemoryTrimOptions["logger"] & Pick<Logger, "debug">,
  callsBegun: IdleMemoryTrimOptions["callsBegun"],
  everyMs = 5_000,
): void => {
  const gc = globalThis.gc
  if (gc === undefined) {
    logger.debug("node runs without --expose-gc (scripts/start.sh sets it): memory a burst leaves behind is not given back when idle")
    return
  }
  let since = performance.eventLoopUtilization()
  const trim = makeIdleMemoryTrim({
    collect: () => gc({ type: "major", execution: "sync", flavor: "last-resort" }),
    rss: () => process.memoryUsage.rss(),
    busyShare: () => {
      const now = performance.eventLoopUtilization()
      const share = performance.eventLoopUtilization(now, since).utilization
      since = now
      return share
    },
    callsBegun,
    logger,
  })
  setInterval(() => trim.check(), everyMs).unref()
}
