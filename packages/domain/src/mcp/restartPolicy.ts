/** When a crashed server is started again, and when the DTMA stops trying. */
export interface RestartPolicy {
  /** First delay; doubles with every crash in the window. */
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  /** Crashes within `windowMs` that open the circuit: no more restarts until an operator acts. */
  readonly maxCrashes: number
  readonly windowMs: number
}

export const defaultRestartPolicy: RestartPolicy = { baseDelayMs: 500, maxDelayMs: 30_000, maxCrashes: 5, windowMs: 120_000 }

export type RestartDecision = { readonly _tag: "Restart"; readonly delayMs: number } | { readonly _tag: "GiveUp"; readonly reason: string }

/** Crash times (unix ms) that still count at `now`. */
export const recentCrashes = (crashes: ReadonlyArray<number>, now: number, policy: RestartPolicy): ReadonlyArray<number> =>
  crashes.filter((at) => now - at < policy.windowMs)

/**
 * Given the crashes so far (the latest included) decide: restart after an exponential delay, or
 * give up because the server is crash-looping.
 */
export const decideRestart = (crashes: ReadonlyArray<number>, now: number, policy: RestartPolicy): RestartDecision => {
  const recent = recentCrashes(crashes, now, policy)
  if (recent.length >= policy.maxCrashes) {
    return {
      _tag: "GiveUp",
      reason: `crashed ${recent.length} times within ${Math.round(policy.windowMs / 1000)} s; not restarting again until it is started by hand`,
    }
  }
  const exponent = Math.max(0, recent.length - 1)
  return { _tag: "Restart", delayMs: Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent) }
}

/**
 * How long until the next health ping: `baseMs` while a server is new or shaky, growing to `maxMs`
 * once it has answered many pings in a row, with ±20% jitter (`random` in [0, 1)) so servers'
 * checks spread out instead of firing together.
 */
export const nextPingDelay = (options: {
  readonly consecutiveOk: number
  readonly baseMs: number
  readonly maxMs: number
  readonly random: number
}): number => {
  const stable = Math.min(options.maxMs, options.baseMs * 2 ** Math.floor(options.consecutiveOk / 5))
  return Math.round(stable * (0.8 + 0.4 * options.random))
}

/**
 * How long until a server that could not be reconnected is tried again: `baseMs` after the first
 * failure, doubling with each further one up to `maxMs`, with the same ±20% jitter as pings.
 */
export const nextReconnectDelay = (options: {
  readonly failures: number
  readonly baseMs: number
  readonly maxMs: number
  readonly random: number
}): number => {
  const backoff = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(30, Math.max(0, options.failures - 1)))
  return Math.round(backoff * (0.8 + 0.4 * options.random))
}
