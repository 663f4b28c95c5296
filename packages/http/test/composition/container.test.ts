import { Effect } from "effect"
import { ContainerEvents, ContainerLogs, ContainerRuntime, ControlPlane, defaultRestartPolicy, HostMetrics, McpConnector } from "@dtma/domain"
import { FETCH_BAD_PORTS, standaloneControlPlane } from "@dtma/adapters"
import { fakesModule, InMemoryContainerRuntime, RecordingControlPlane, fakeAgentAccess } from "@dtma/testing"
import { Container } from "inversify"
import { describe, expect, it } from "vitest"
import { adaptersModule } from "../../src/composition/adaptersModule.ts"
import { buildContainer, configModule, heartbeatEnabled, stopUseCases, useCaseSettingsOf } from "../../src/composition/container.ts"
import { bound, Tokens } from "../../src/composition/tokens.ts"
import { capturingLogger, IMAGE, testConfig } from "../support/support.ts"

describe("the composition root", () => {
  it("binds the use cases once each, over the ports it is given", async () => {
    const runtime = new InMemoryContainerRuntime({ images: [IMAGE] })
    const controlPlane = new RecordingControlPlane()
    const container = buildContainer({ config: testConfig(), logger: capturingLogger().logger, infrastructure: fakesModule({ runtime, controlPlane }) })
    const instances = bound(container, Tokens.Instances)
    expect(bound(container, Tokens.Instances)).toBe(instances)
    expect(bound(container, ContainerRuntime)).toBe(runtime)
    await Effect.runPromise(instances.deploy({ name: "tool-a", accountToolInstanceId: "ati-1", image: IMAGE, env: [], ports: [] }))
    await Effect.runPromise(bound(container, Tokens.Heartbeat).send())
    expect(controlPlane.received[0]?.tools.map((t) => t.accountToolInstanceId)).toEqual(["ati-1"])
    const mcpServers = bound(container, Tokens.McpServers)
    expect(bound(container, Tokens.McpServers)).toBe(mcpServers)
    expect(mcpServers.list()).toEqual([])
    await stopUseCases(container)
  })

  it("reserves the DTMA's own port and uses the agreed retry, stop and MCP supervision settings", () => {
    expect(useCaseSettingsOf(testConfig({ port: 31000 }))).toEqual({
      instances: {
        reservedHostPorts: [31000],
        uncallableHostPorts: FETCH_BAD_PORTS,
        stopGraceSeconds: 10,
        bounds: { maxMemoryBytes: 4 * 1024 ** 3, maxNanoCpus: 2_000_000_000, maxPidsLimit: 4096 },
      },
      heartbeat: { dtmaVersion: "0.1.0", retries: 4, retryBase: "2000 millis" },
      mcpServers: {
        clientInfo: { name: "dtma", version: "0.1.0" },
        protocolVersion: "2025-11-25",
        supportedProtocolVersions: ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"],
        startTimeoutMs: 30_000,
        requestTimeoutMs: 60_000,
        pingTimeoutMs: 5_000,
        pingBaseMs: 5_000,
        pingMaxMs: 60_000,
        discoveryIntervalMs: 300_000,
        restartPolicy: defaultRestartPolicy,
        maxInFlight: 32,
        maxQueued: 256,
        drainTimeoutMs: 10_000,
      },
      credentials: {
        onExpiry: { _tag: "on_expiry", lifetimeShare: 0.8, marginMs: 300_000, jitterShare: 0.1, minimumBeforeExpiryMs: 30_000 },
        retry: { baseDelayMs: 1_000, maxDelayMs: 60_000 },
        idleRecheckMs: 60_000,
      },
    })
  })

  it("turns the heartbeat on only with both a backend URL and a token to present", () => {
    expect(heartbeatEnabled(testConfig())).toBe(true)
    expect(heartbeatEnabled(testConfig({ apiBaseUrl: null }))).toBe(false)
    expect(heartbeatEnabled(testConfig({ outboundToken: null }))).toBe(false)
  })
})

const loadAdapters = (config = testConfig()) => {
  const container = new Container({ defaultScope: "Singleton" })
  container.load(configModule(config, capturingLogger().logger), adaptersModule(config, fakeAgentAccess().access))
  return container
}

describe("the real adapters module", () => {
  it("binds every port without touching Docker or the backend", () => {
    const container = loadAdapters()
    for (const token of [ContainerRuntime, ControlPlane, HostMetrics, McpConnector, ContainerLogs, ContainerEvents]) expect(container.get(token)).toBeDefined()
    expect(container.get(ControlPlane)).not.toBe(standaloneControlPlane)
  })

  it("binds a control plane that reports nowhere when no backend URL is set", () => {
    expect(loadAdapters(testConfig({ apiBaseUrl: null })).get(ControlPlane)).toBe(standaloneControlPlane)
  })
})
