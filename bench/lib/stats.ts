/** Order statistics of a sample, in the sample's unit. */
export interface Summary {
  readonly n: number
  readonly p50: number
  readonly p99: number
  readonly min: number
  readonly max: number
  readonly mean: number
}

/** The nearest-rank percentile `q` (0–100) of an ascending array; NaN when empty. */
export const percentile = (sorted: ReadonlyArray<number>, q: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((q / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN
}

export const summarize = (samples: ReadonlyArray<number>): Summary => {
  const sorted = [...samples].sort((a, b) => a - b)
  const sum = sorted.reduce((a, b) => a + b, 0)
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  }
}

/** Rounds for the report: 3 significant decimals below 10, 2 below 100, 1 above. */
export const round = (value: number): number => {
  if (!Number.isFinite(value)) return value
  const digits = Math.abs(value) < 10 ? 3 : Math.abs(value) < 100 ? 2 : 1
  const f = 10 ** digits
  return Math.round(value * f) / f
}
