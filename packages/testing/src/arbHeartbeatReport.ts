import fc from "fast-check"
import type { HeartbeatReport, HostMetricsSample, ToolStatusReport } from "@dtma/domain"

const text = fc.string({ unit: "grapheme", maxLength: 24 })
const bytes = fc.nat({ max: 2 ** 40 })
const iso = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2040, 0, 1) }).map((ms) => new Date(ms).toISOString())

/** A consistent host sample: used and free within the totals, a CPU share in tenths of a percent. */
export const arbHostMetricsSample: fc.Arbitrary<HostMetricsSample> = fc
  .record({
    cpuTenths: fc.integer({ min: 0, max: 1000 }),
    memory: fc.tuple(bytes, bytes).map(([total, free]) => ({ totalBytes: total + free, freeBytes: free, usedBytes: total, activeBytes: total })),
    disk: fc.tuple(bytes, bytes, bytes).map(([used, free, reserved]) => ({ mount: "/", totalBytes: used + free + reserved, usedBytes: used, freeBytes: free })),
  })
  .map(({ cpuTenths, memory, disk }) => ({ cpuLoadPercent: cpuTenths / 10, memory, disk }))

const arbOAuth = fc.record({
  connectionId: fc.uuid(),
  provider: fc.option(text, { nil: null }),
  status: fc.constantFrom("connected", "expired", "reauthorization_required"),
  expiresAt: fc.option(iso, { nil: null }),
})

const arbToolStatus: fc.Arbitrary<ToolStatusReport> = fc.record({
  accountToolInstanceId: fc.uuid(),
  statusOnToolbox: fc.constantFrom("running", "stopped", "deploying", "error"),
  containerId: fc.stringMatching(/^[0-9a-f]{64}$/),
  image: text,
  startedAt: fc.option(iso, { nil: null }),
  state: fc.constantFrom("running", "exited", "created", "paused"),
  instanceName: text,
  kind: fc.constantFrom("standard_tool", "mcp_server"),
  mcp: fc.option(
    fc.record({
      transport: fc.constantFrom("stdio", "sse", "streamable_http", "websocket"),
      health: fc.constantFrom("healthy", "degraded", "unhealthy", "starting"),
      oauth: fc.option(fc.array(arbOAuth, { maxLength: 2 }), { nil: undefined }),
    }),
    { nil: null },
  ),
})

/** A heartbeat as the DTMA builds one: its version, a host sample, and the tools it runs. */
export const arbHeartbeatReport: fc.Arbitrary<HeartbeatReport> = fc.record({
  dtmaVersion: fc.stringMatching(/^\d{1,2}\.\d{1,2}\.\d{1,2}$/),
  system: arbHostMetricsSample,
  tools: fc.array(arbToolStatus, { maxLength: 3 }),
})
