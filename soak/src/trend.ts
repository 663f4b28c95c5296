/** One sample of the DTMA process. */
export interface Sample {
  readonly t: number
  readonly pid: number
  readonly rssMb: number
  readonly fds: number
  readonly sockets: number
  readonly load1: number
}

/** Least-squares slope of y over x; 0 with fewer than two distinct x. */
export const slope = (points: ReadonlyArray<readonly [number, number]>): number => {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
  return sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx
}

/** The memory trend of the DTMA: over every sample, and over the longest stretch of one process after its warm-up. */
export interface MemoryTrend {
  readonly firstMb: number | null
  readonly lastMb: number | null
  readonly maxMb: number | null
  readonly processes: number
  /** The longest-lived process's samples after `warmupMs`: its span, RSS slope and the growth that slope makes over the span. */
  readonly longest: { readonly pid: number; readonly minutes: number; readonly slopeMbPerMin: number; readonly fittedGrowthMb: number } | null
  /** Whether the fitted growth exceeds the threshold: a leak. */
  readonly leak: boolean
  readonly thresholdMb: number
}

/**
 * Growth above `thresholdMb` over the longest-lived process (samples after its first `warmupMs`)
 * is a leak. A DTMA restarted by the soak starts afresh, so only one process's samples are fitted.
 */
export const memoryTrend = (samples: ReadonlyArray<Sample>, warmupMs: number, thresholdMb: number): MemoryTrend => {
  const byPid = new Map<number, Array<Sample>>()
  for (const s of samples) byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s])
  const stretches = [...byPid.values()].map((ss) => ss.filter((s) => s.t - ss[0]!.t >= warmupMs)).filter((ss) => ss.length >= 3)
  const longest = stretches.sort((a, b) => b.at(-1)!.t - b[0]!.t - (a.at(-1)!.t - a[0]!.t))[0]
  const fitted =
    longest === undefined
      ? null
      : (() => {
          const minutes = (longest.at(-1)!.t - longest[0]!.t) / 60_000
          const perMin = slope(longest.map((s) => [(s.t - longest[0]!.t) / 60_000, s.rssMb] as const))
          return { pid: longest[0]!.pid, minutes, slopeMbPerMin: perMin, fittedGrowthMb: perMin * minutes }
        })()
  return {
    firstMb: samples[0]?.rssMb ?? null,
    lastMb: samples.at(-1)?.rssMb ?? null,
    maxMb: samples.length === 0 ? null : Math.max(...samples.map((s) => s.rssMb)),
    processes: byPid.size,
    longest: fitted,
    leak: fitted !== null && fitted.fittedGrowthMb > thresholdMb,
    thresholdMb,
  }
}
