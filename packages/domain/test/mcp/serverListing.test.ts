import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { ManagedContainer } from "../../src/ManagedInstance.ts"
import type { CapabilitySnapshot } from "../../src/mcp/discovery.ts"
import { listingChanged, listingOf, type ServerListing } from "../../src/mcp/serverListing.ts"
import type { ServerState, SupervisedServer } from "../../src/mcp/serverStateMachine.ts"

const container: ManagedContainer = {
  containerId: "c1",
  name: "srv",
  containerName: "srv",
  accountToolInstanceId: "ati-1",
  image: "img:1",
  kind: "mcp_server",
  state: "running",
  exitCode: null,
  startedAt: null,
  createdAt: 0,
  ports: [],
  mcp: { transport: "stdio", endpointPath: null, port: null },
}

const snapshot = (hash: string): CapabilitySnapshot => ({
  protocolVersion: "2025-11-25",
  serverInfo: { name: "s", version: "1" },
  serverCapabilities: {},
  tools: [],
  resources: [],
  resourceTemplates: [],
  prompts: [],
  hash,
  fetchedAt: "t",
})

const server = (state: ServerState, hash: string | null = "h1"): SupervisedServer => ({
  name: "srv",
  state,
  container,
  snapshot: hash === null ? null : snapshot(hash),
  crashes: [],
  restartCount: 0,
  lastError: null,
  history: [],
  lastHealthCheck: null,
  pingLatencyMs: null,
  discoveredAt: 0,
})

describe("how a server stands for a client of many servers", () => {
  it.each<[string, ServerState, boolean]>([
    ["ready", { _tag: "Ready", connection: 1, consecutiveOk: 0 }, true],
    ["degraded (late pings, still connected)", { _tag: "Degraded", connection: 1, failedPings: 1 }, true],
    ["starting", { _tag: "Starting", why: "reconnect", failures: 0 }, false],
    ["down", { _tag: "Down", failures: 1 }, false],
    ["waiting to restart", { _tag: "RestartScheduled", delayMs: 500 }, false],
    ["crash-looping", { _tag: "CircuitOpen" }, false],
    ["stopping", { _tag: "Stopping" }, false],
    ["stopped", { _tag: "Stopped" }, false],
  ])("%s: takes calls is %s", (_, state, serving) => {
    expect(listingOf(server(state))).toEqual({ serving, lists: "h1", accountToolInstanceId: "ati-1" })
  })

  it("is nothing without a server, and lists nothing known before the first discovery", () => {
    expect(listingOf(null)).toBeNull()
    expect(listingOf(server({ _tag: "Starting", why: "deploy", failures: 0 }, null))?.lists).toBeNull()
  })
})

const arbListing: fc.Arbitrary<ServerListing | null> = fc.option(
  fc.record({ serving: fc.boolean(), lists: fc.option(fc.constantFrom("h1", "h2")), accountToolInstanceId: fc.option(fc.constantFrom("a", "b")) }),
)

describe("whether a listing changed", () => {
  it("is false exactly when both are absent or every field is equal, and the same read either way", () => {
    fc.assert(
      fc.property(arbListing, arbListing, (a, b) => {
        const equal = a === null || b === null ? a === b : a.serving === b.serving && a.lists === b.lists && a.accountToolInstanceId === b.accountToolInstanceId
        expect(listingChanged(a, b)).toBe(!equal)
        expect(listingChanged(b, a)).toBe(listingChanged(a, b))
      }),
    )
  })
})
