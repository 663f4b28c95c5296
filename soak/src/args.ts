/** Parses a duration like `2m`, `90s`, `1h`, `2m30s` or a number of seconds; null if it is not one. */
export const parseDuration = (text: string): number | null => {
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(h|m|s|ms)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) return null
  const unit = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2] as keyof typeof unit], 0))
}

/** What `pnpm soak [duration]` was asked for. */
export interface SoakArgs {
  readonly durationMs: number
  readonly outDir: string
}

export const USAGE = "usage: pnpm soak [duration]   (e.g. 2m, 10m, 90s; default 2m). Env: SOAK_OUT_DIR (default soak/results)"

/** The arguments, or an error message. */
export const parseArgs = (argv: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>, defaultOut: string): SoakArgs | string => {
  const positional = argv.filter((a) => a !== "--")
  if (positional.length > 1 || positional.some((a) => a.startsWith("-"))) return USAGE
  const durationMs = parseDuration(positional[0] ?? "2m")
  if (durationMs === null || durationMs < 20_000) return `not a duration of at least 20 s: '${positional[0]}'\n${USAGE}`
  return { durationMs, outDir: env.SOAK_OUT_DIR ?? defaultOut }
}
