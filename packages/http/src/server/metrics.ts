import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { ContainerState, Instances } from "@dtma/domain"
import type { Middleware } from "koa"
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client"
import type { McpSessionStats } from "../mcpProxy/McpProxy.ts"
import type { AuditFigures } from "../composition/auditTrail.ts"

const STATES: ReadonlyArray<ContainerState> = ["created", "running", "paused", "restarting", "removing", "exited", "dead"]

export interface HttpMetrics {
  readonly registry: Registry
  /** Records one answered request. `route` is the route pattern, never the raw path. */
  observe(request: { readonly method: string; readonly route: string; readonly status: number; readonly seconds: number }): void
  /** `GET /metrics`. */
  readonly handler: Middleware
}

/** Prometheus metrics in a registry of their own (never the global one). */
export const makeHttpMetrics = (options: {
  readonly instances: Instances
  readonly mcpSessions?: { sessionStats(): McpSessionStats }
  readonly agentRateLimits?: { refused(): number }
  readonly audit?: { figures(): AuditFigures }
}): HttpMetrics => {
  const registry = new Registry()
  // Event-loop delay sampled every 100 ms, not prom-client's 10 ms: a hundred wake-ups a second were
  // half a percent of a core on an idle DTMA.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 })
  const requests = new Counter({
    name: "dtma_http_requests_total",
    help: "HTTP requests answered, by method, route and status",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  })
  const latency = new Histogram({
    name: "dtma_http_request_duration_seconds",
    help: "HTTP request latency, by method, route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  })
  const runtimeUp = new Gauge({
    name: "dtma_container_runtime_up",
    help: "1 when the container runtime answered the last scrape's listing, else 0",
    registers: [registry],
  })
  const managedInstances = new Gauge({
    name: "dtma_managed_instances",
    help: "Managed tool instances by Docker state, read at scrape time",
    labelNames: ["state"],
    registers: [],
    async collect() {
      const exit = await Effect.runPromiseExit(options.instances.list())
      this.reset()
      runtimeUp.set(Exit.isSuccess(exit) ? 1 : 0)
      if (Exit.isFailure(exit)) return
      for (const state of STATES) this.set({ state }, exit.value.filter((c) => c.state === state).length)
    },
  })
  registry.registerMetric(managedInstances)
  const sessions = options.mcpSessions
  if (sessions !== undefined) {
    const open = new Gauge({
      name: "dtma_mcp_client_sessions",
      help: "Open client sessions of the proxied MCP endpoint, by server",
      labelNames: ["server"],
      registers: [],
      collect() {
        this.reset()
        for (const [server, n] of sessions.sessionStats().open) this.set({ server }, n)
      },
    })
    const refused = new Counter({
      name: "dtma_mcp_client_sessions_refused_total",
      help: "New client sessions of the proxied MCP endpoint refused, by the bound they would have passed (per_server, total)",
      labelNames: ["limit"],
      registers: [],
      collect() {
        this.reset()
        for (const [limit, n] of Object.entries(sessions.sessionStats().refused)) this.inc({ limit }, n)
      },
    })
    registry.registerMetric(open)
    registry.registerMetric(refused)
  }
  const rateLimits = options.agentRateLimits
  if (rateLimits !== undefined) {
    const limited = new Counter({
      name: "dtma_agent_requests_rate_limited_total",
      help: "Requests of agents on the MCP endpoints refused with 429: over their rate (DTMA_AGENT_RATE_PER_S, DTMA_AGENT_BURST)",
      registers: [],
      collect() {
        this.reset()
        this.inc(rateLimits.refused())
      },
    })
    registry.registerMetric(limited)
  }
  if (options.audit !== undefined) registerAuditMetrics(registry, options.audit)
  return {
    registry,
    observe: ({ method, route, status, seconds }) => {
      const labels = { method, route, status: String(status) }
      requests.inc(labels)
      latency.observe(labels, seconds)
    },
    handler: async (ctx) => {
      ctx.set("Content-Type", registry.contentType)
      ctx.body = await registry.metrics()
    },
  }
}

/** The audit's counters, read from its figures at scrape time. */
const registerAuditMetrics = (registry: Registry, audit: { figures(): AuditFigures }): void => {
  const counter = (name: string, help: string, labelNames: ReadonlyArray<string>, fill: (metric: Counter, figures: AuditFigures) => void) =>
    registry.registerMetric(
      new Counter({
        name,
        help,
        labelNames: [...labelNames],
        registers: [],
        collect() {
          this.reset()
          fill(this, audit.figures())
        },
      }),
    )
  counter("dtma_audit_records_total", "Audit records taken, by outcome", ["outcome"], (metric, f) => {
    for (const [outcome, n] of Object.entries(f.records)) metric.inc({ outcome }, n)
  })
  counter("dtma_audit_log_dropped_total", "Audit records the audit file never got (a full buffer or a failed write)", [], (metric, f) =>
    metric.inc(f.logDropped),
  )
  counter(
    "dtma_audit_shipping_dropped_total",
    "Audit records not copied to the backend, by reason: queue_full (the oldest, while it was down) or rejected (a 4xx)",
    ["reason"],
    (metric, f) => {
      for (const [reason, n] of Object.entries(f.shippingDropped)) metric.inc({ reason }, n)
    },
  )
  registry.registerMetric(
    new Gauge({
      name: "dtma_audit_shipping_queue",
      help: "Audit records waiting to be copied to the backend",
      registers: [],
      collect() {
        this.set(audit.figures().shippingQueued)
      },
    }),
  )
}
