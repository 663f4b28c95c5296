import type { McpServersSettings } from "../../src/index.ts"

/** Supervision fast enough for tests over the fakes; each file overrides what it is about. */
export const testSupervision = (overrides: Partial<McpServersSettings> = {}): McpServersSettings => ({
  clientInfo: { name: "dtma", version: "0.1.0" },
  protocolVersion: "2025-11-25",
  supportedProtocolVersions: ["2025-11-25", "2025-06-18", "2025-03-26"],
  startTimeoutMs: 300,
  requestTimeoutMs: 500,
  pingTimeoutMs: 100,
  pingBaseMs: 20,
  pingMaxMs: 40,
  discoveryIntervalMs: 60_000,
  restartPolicy: { baseDelayMs: 10, maxDelayMs: 40, maxCrashes: 3, windowMs: 60_000 },
  maxInFlight: 8,
  maxQueued: 16,
  drainTimeoutMs: 200,
  ...overrides,
})
