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
  // Refills are floating-point sums: a bucket refilled to exactly the cost may hold a hair more or
  // less than it. Within `SLACK` of the cost counts as holding it, and the wait is reckoned so.
  const charged = Math.min(cost, rate.burst)
  const shortBy = charged - SLACK - current.tokens
  if (shortBy <= 0) return { allowed: true, bucket: { tokens: Math.max(0, current.tokens - charged), at: current.at } }
  return { allowed: false, bucket: current, retryAfterMs: Math.ceil((shortBy * 1000) / rate.perSecond) }
}

/** A billionth of a token: far above floating-point error, far below anything a rate can refill in a millisecond. */
const SLACK = 1e-9

/** Whether the bucket is full again at `now`, so forgetting it changes nothing. */
export const isBucketFull = (bucket: Bucket, rate: Rate, now: number): boolean => refillBucket(bucket, rate, now).tokens >= rate.burst
