import { fullBucket, isBucketFull, takeFromBucket, type Bucket, type Rate } from "@dtma/domain"
import type { Middleware } from "koa"
import { requestStateOf } from "./requestState.ts"
import { EdgeErrorCodes, isMcpEndpoint, refuseMcp } from "./mcpEndpoints.ts"
import { isObject } from "../mcpProxy/isObject.ts"
import { listenFilterOf } from "../mcpProxy/ModernListen.ts"

/** Agents whose buckets are kept before full ones are forgotten (a full bucket is the same as none). */
const SWEEP_AT = 10_000

/** Per-agent token buckets, by agent id. */
export interface AgentRateLimits {
  /** Takes `cost` from `agent`'s bucket: 0 when allowed, else the milliseconds to wait. */
  take(agent: string, cost: number): number
  /** Requests refused since start. */
  readonly refused: () => number
}

export const makeAgentRateLimits = (rate: Rate, now: () => number = Date.now): AgentRateLimits => {
  const buckets = new Map<string, Bucket>()
  let refused = 0
  const sweep = (at: number): void => {
    for (const [agent, bucket] of buckets) if (isBucketFull(bucket, rate, at)) buckets.delete(agent)
  }
  return {
    take: (agent, cost) => {
      const at = now()
      if (buckets.size >= SWEEP_AT && !buckets.has(agent)) sweep(at)
      const taken = takeFromBucket(buckets.get(agent) ?? fullBucket(rate, at), rate, at, cost)
      buckets.set(agent, taken.bucket)
      if (taken.allowed) return 0
      refused++
      return taken.retryAfterMs
    },
    refused: () => refused,
  }
}

/**
 * The resources a 2026-07-28 `subscriptions/listen` subscribes to, each a `resources/subscribe`
 * upstream; none when it is refused for its filter (asking too many, say), so that it gets its 400.
 */
const listenSubscriptionsOf = (body: unknown): number => {
  if (!isObject(body) || body["method"] !== "subscriptions/listen") return 0
  const filter = listenFilterOf(isObject(body["params"]) ? body["params"] : undefined)
  return "invalid" in filter ? 0 : (filter.resourceSubscriptions?.length ?? 0)
}

/**
 * A POST's cost is the number of JSON-RPC messages it carries, and a listen's one more for each
 * resource it subscribes to: neither a batch nor a listen buys a hundred calls for one.
 */
const costOf = (method: string, body: unknown): number => {
  if (method !== "POST") return 1
  return Array.isArray(body) ? Math.max(1, body.length) : 1 + listenSubscriptionsOf(body)
}

/**
 * Limits each agent's requests on the MCP endpoints (agent-access spec, "Rate limits"): over its
 * bucket, `429` with `Retry-After` and a JSON-RPC error. Operators are not limited. Runs after the
 * body is parsed, to count a batch's messages.
 */
export const rateLimitAgents =
  (limits: AgentRateLimits): Middleware =>
  async (ctx, next) => {
    const caller = requestStateOf(ctx).caller
    if (caller?.kind !== "agent" || !isMcpEndpoint(ctx.path)) return next()
    const waitMs = limits.take(caller.sub, costOf(ctx.method, ctx.request.body))
    if (waitMs === 0) return next()
    const seconds = Math.max(1, Math.ceil(waitMs / 1000))
    refuseMcp(ctx, {
      status: 429,
      code: EdgeErrorCodes.RateLimited,
      error: "rate_limited",
      message: `Too many requests: this agent is over its rate (DTMA_AGENT_RATE_PER_S, DTMA_AGENT_BURST); retry after ${seconds} s`,
      headers: { "Retry-After": String(seconds) },
    })
  }
