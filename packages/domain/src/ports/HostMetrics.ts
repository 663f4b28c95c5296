import type * as Effect from "effect/Effect"
import { token, type Token } from "../Token.ts"
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

export const HostMetrics: Token<HostMetrics> = token("dtma/HostMetrics")
