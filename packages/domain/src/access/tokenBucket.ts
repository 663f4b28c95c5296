/**
 * A token bucket, as a pure function of the bucket and the time: `burst` requests at once, then
 * `perSecond` on average. Times are milliseconds of one clock; a clock that goes back refills nothing.
 */
export interface Bucket {
  readonly tokens: number
  /** When `tokens` was counted. */
  readonly at: number
}

export interface Rate {
  readonly perSecond: number
  readonly burst: number
}

export type Taken =
  | { readonly allowed: true; readonly bucket: Bucket }
  | {
      readonly allowed: false
      readonly bucket: Bucket
      /** How long until the cost is in the bucket. */
      readonly retryAfterMs: number
    }

export const fullBucket = (rate: Rate, now: number): Bucket => ({ tokens: rate.burst, at: now })

/** The bucket at `now`: refilled for the time since it was counted, never above the burst. */
export const refillBucket = (bucket: Bucket, rate: Rate, now: number): Bucket => {
  const elapsed = Math.max(0, now - bucket.at)
  return { tokens: Math.min(rate.burst, bucket.tokens + (elapsed * rate.perSecond) / 1000), at: Math.max(now, bucket.at) }
}

/**
 * Takes `cost` tokens (at most the burst: a cost above it could never pass) when the bucket holds
 * them; otherwise takes nothing and says how long to wait.
 */
export const takeFromBucket = (bucket: Bucket, rate: Rate, now: number, cost = 1): Taken => {
  const current = refillBucket(bucket, rate, now)
  const needed = Math.min(cost, rate.burst)
  if (current.tokens >= needed) return { allowed: true, bucket: { tokens: current.tokens - needed, at: current.at } }
  return { allowed: false, bucket: current, retryAfterMs: Math.ceil(((needed - current.tokens) * 1000) / rate.perSecond) }
}

/** Whether the bucket is full again at `now`, so forgetting it changes nothing. */
export const isBucketFull = (bucket: Bucket, rate: Rate, now: number): boolean => refillBucket(bucket, rate, now).tokens >= rate.burst
