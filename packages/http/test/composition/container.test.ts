import { once } from "node:events"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Redacted } from "effect"
import {
  AuditLog,
  auditRecordOf,
  ContainerEvents,
  ContainerLogs,
  ContainerRuntime,
  ControlPlane,
  defaultRestartPolicy,
  HostMetrics,
  McpConnector,
} from "@dtma/domain"
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
        isolatedIdleMs: 900_000,
        isolatedMax: 20,
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

describe("the audit in the real composition", () => {
  it("keeps records in the DTMA_AUDIT_LOG file and copies them to the backend, both done when the DTMA stops", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dtma-audit-composition-"))
    const received: Array<{ url: string | undefined; body: { records: ReadonlyArray<unknown> } }> = []
    const backend = createServer((req, res) => {
      let text = ""
      req.on("data", (c: Buffer) => (text += c.toString()))
      req.on("end", () => {
        received.push({ url: req.url, body: JSON.parse(text) })
        res.writeHead(204).end()
      })
    })
    backend.listen(0, "127.0.0.1")
    await once(backend, "listening")
    try {
      const config = testConfig({
        apiBaseUrl: `http://127.0.0.1:${(backend.address() as AddressInfo).port}/functions/v1`,
        outboundToken: Redacted.make("outbound"),
        audit: { path: join(dir, "audit", "audit.jsonl"), maxBytes: 1_000_000, files: 2, backendPath: "dtma-audit" },
      })
      const container = buildContainer({ config, logger: capturingLogger().logger, infrastructure: adaptersModule(config, fakeAgentAccess().access) })
      const record = auditRecordOf({ time: 1_780_000_000_000, route: "/mcp-servers", method: "GET", outcome: "ok" })
      const log = bound(container, AuditLog)
      await Effect.runPromise(log.record(record))
      expect(await Effect.runPromise(log.query({ limit: 10 }))).toEqual([record])
      expect(bound(container, Tokens.AuditDelivery).stats()).toEqual({
        logDropped: 0,
        shipping: { queued: 1, delivered: 0, dropped: { queue_full: 0, rejected: 0 } },
      })
      await stopUseCases(container)
      expect(JSON.parse(await readFile(config.audit.path, "utf8"))).toEqual(record)
      expect(received).toEqual([{ url: "/functions/v1/dtma-audit", body: { records: [record] } }])
    } finally {
      backend.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("keeps the file only, when no backend is configured", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dtma-audit-composition-"))
    try {
      const config = testConfig({ apiBaseUrl: null, audit: { path: join(dir, "audit.jsonl"), maxBytes: 1_000_000, files: 2, backendPath: "dtma-audit" } })
      const container = buildContainer({ config, logger: capturingLogger().logger, infrastructure: adaptersModule(config, fakeAgentAccess().access) })
      await Effect.runPromise(bound(container, AuditLog).record(auditRecordOf({ time: 1, route: "/tools", outcome: "ok" })))
      expect(bound(container, Tokens.AuditDelivery).stats()).toEqual({ logDropped: 0, shipping: null })
      await stopUseCases(container)
      expect((await readFile(config.audit.path, "utf8")).split("\n")).toHaveLength(2)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
