/** The proxy's clock for deadlines (token expiry): real in the DTMA, moved by hand in tests. */
export interface ProxyTimers {
  /** Unix ms. */
  now(): number
  /**
   * Calls `fn` at `time` (unix ms), never synchronously, even when `time` has passed: what the
   * caller does next (open a stream, say) happens first. Returns the cancel.
   */
  at(time: number, fn: () => void): () => void
}

/** The longest delay `setTimeout` takes; a later deadline is reached in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1

export const realTimers: ProxyTimers = {
  now: () => Date.now(),
  at: (time, fn) => {
    let handle: NodeJS.Timeout | undefined
    const arm = (): void => {
      const wait = time - Date.now()
      handle = setTimeout(wait > MAX_DELAY_MS ? arm : fn, Math.max(0, Math.min(wait, MAX_DELAY_MS))).unref()
    }
    arm()
    return () => clearTimeout(handle)
  },
}
