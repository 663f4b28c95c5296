/** One sample of the DTMA process. */
export interface Sample {
  readonly t: number
  readonly pid: number
  readonly rssMb: number
  /** V8 heap in use (`nodejs_heap_size_used_bytes` of its /metrics); null when /metrics did not answer. */
  readonly heapMb: number | null
  /** Memory of C++ objects bound to JS ones, buffers included (`nodejs_external_memory_bytes`); null when /metrics did not answer. */
  readonly externalMb: number | null
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

/** Limits beyond which memory growth is a leak, and how much of a process's life they need. */
export interface MemoryLimits {
  /** Ignore a process's first samples: a fresh DTMA's heap grows for about a minute under load. */
  readonly warmupMs: number
  /** Below this much life after the warm-up a process gives no verdict (too short to tell growth from noise). */
  readonly minSpanMs: number
  /** The live heap (the lowest heap-in-use of a third of the span: what survives garbage collection) may grow this much. */
  readonly heapFloorMb: number
  /** The lowest external memory (buffers) of a third of the span may grow this much. */
  readonly externalFloorMb: number
  /** The lowest RSS of a third of the span may grow this much: a gross bound, since V8 sizes its heap to the load. */
  readonly rssFloorMb: number
}

/** The DTMA's memory over the run, and the verdict from its longest-lived process. */
export interface MemoryTrend {
  readonly firstMb: number | null
  readonly lastMb: number | null
  readonly maxMb: number | null
  readonly processes: number
  /** The longest-lived process after its warm-up: span, RSS slope (for a person), and the two growths judged. */
  readonly longest: {
    readonly pid: number
    readonly minutes: number
    readonly rssSlopeMbPerMin: number
    /** [first third, last third] of the span. */
    readonly rssPeakMb: readonly [number, number]
    readonly rssFloorMb: readonly [number, number]
    readonly heapFloorMb: readonly [number, number] | null
    readonly externalFloorMb: readonly [number, number] | null
  } | null
  /** null: no process lived long enough for a verdict. */
  readonly leak: boolean | null
  readonly limits: MemoryLimits
}

const thirds = <A>(xs: ReadonlyArray<A>): readonly [ReadonlyArray<A>, ReadonlyArray<A>] => [
  xs.slice(0, Math.ceil(xs.length / 3)),
  xs.slice(Math.floor((2 * xs.length) / 3)),
]

/** The lowest value of a field over the first and over the last third of samples; null if a third has none. */
const floors = (first: ReadonlyArray<Sample>, last: ReadonlyArray<Sample>, of: (s: Sample) => number | null): readonly [number, number] | null => {
  const values = (ss: ReadonlyArray<Sample>) => ss.flatMap((s) => (of(s) === null ? [] : [of(s)!]))
  const [a, b] = [values(first), values(last)]
  return a.length === 0 || b.length === 0 ? null : [Math.min(...a), Math.min(...b)]
}

/**
 * A leak is growth that garbage collection does not take back, between the first and the last
 * third of the longest-lived process's span: of the live heap (the lowest heap-in-use), of external
 * memory (buffers), or, by a wide margin, of the lowest RSS. RSS peaks and a straight-line fit of
 * RSS are reported but not judged: V8 sizes its heap to the load and hands memory back in steps, so
 * both swung by 75-90 MB in runs whose live heap stayed flat. A DTMA the soak restarted starts
 * afresh, so only one process is judged.
 */
export const memoryTrend = (samples: ReadonlyArray<Sample>, limits: MemoryLimits): MemoryTrend => {
  const byPid = new Map<number, Array<Sample>>()
  for (const s of samples) byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s])
  const span = (ss: ReadonlyArray<Sample>) => (ss.length === 0 ? 0 : ss.at(-1)!.t - ss[0]!.t)
  const stretches = [...byPid.values()].map((ss) => ss.filter((s) => s.t - ss[0]!.t >= limits.warmupMs)).sort((a, b) => span(b) - span(a))
  const longest = stretches[0]
  const judged = longest !== undefined && span(longest) >= limits.minSpanMs ? longest : undefined
  const summary =
    judged === undefined
      ? null
      : (() => {
          const [first, last] = thirds(judged)
          return {
            pid: judged[0]!.pid,
            minutes: span(judged) / 60_000,
            rssSlopeMbPerMin: slope(judged.map((s) => [(s.t - judged[0]!.t) / 60_000, s.rssMb] as const)),
            rssPeakMb: [Math.max(...first.map((s) => s.rssMb)), Math.max(...last.map((s) => s.rssMb))] as const,
            rssFloorMb: floors(first, last, (s) => s.rssMb)!,
            heapFloorMb: floors(first, last, (s) => s.heapMb),
            externalFloorMb: floors(first, last, (s) => s.externalMb),
          }
        })()
  const grew = (pair: readonly [number, number] | null, limit: number) => pair !== null && pair[1] - pair[0] > limit
  const leak =
    summary === null
      ? null
      : grew(summary.heapFloorMb, limits.heapFloorMb) || grew(summary.externalFloorMb, limits.externalFloorMb) || grew(summary.rssFloorMb, limits.rssFloorMb)
  return {
    firstMb: samples[0]?.rssMb ?? null,
    lastMb: samples.at(-1)?.rssMb ?? null,
    maxMb: samples.length === 0 ? null : Math.max(...samples.map((s) => s.rssMb)),
    processes: byPid.size,
    longest: summary,
    leak,
    limits,
  }
}
