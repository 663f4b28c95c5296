import type * as Effect from "effect/Effect"
export interface HostMetricsSample {
  readonly cpuLoadPercent: number
  readonly memory: { readonly totalBytes: number; readonly activeBytes: number; readonly freeBytes: number; readonly usedBytes: number }
  readonly disk: { readonly mount: string; readonly totalBytes: number; readonly usedBytes: number; readonly freeBytes: number }
}

/** The machine's load, memory and disk. */
export interface HostMetrics {
  /** A fresh sample; never fails (unknown figures are 0). */
  sample(): Effect.Effect<HostMetricsSample>
}

export const HostMetrics = Symbol.for("dtma/HostMetrics")
