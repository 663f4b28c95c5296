import { Effect, Exit, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { makeHeartbeat, makeInstances, repeatHeartbeats } from "../../src/index.ts"
import { failureOf, FixedHostMetrics, InMemoryContainerRuntime, RecordingControlPlane, run, virtualTime } from "@dtma/testing"

const setup = async () => {
  const runtime = new InMemoryContainerRuntime({ images: ["img:1"] })
  const instances = makeInstances({ runtime, settings: { reservedHostPorts: [], stopGraceSeconds: 1 } })
  await run(instances.deploy({ name: "with-id", accountToolInstanceId: "ati-1", image: "img:1", env: [{ name: "K", value: Redacted.make("v") }], ports: [] }))
  await run(instances.deploy({ name: "without-id", accountToolInstanceId: null, image: "img:1", env: [], ports: [] }))
  const controlPlane = new RecordingControlPlane()
  const heartbeat = makeHeartbeat({
    runtime,
    controlPlane,
    metrics: new FixedHostMetrics(),
    settings: { dtmaVersion: "0.1.0", retries: 3, retryBase: "1 millis" },
  })
  return { heartbeat, controlPlane }
}

describe("heartbeat", () => {
  it("reports every instance that has an account tool instance id, with the backend's status", async () => {
    const { heartbeat, controlPlane } = await setup()
    await run(heartbeat.send())
    expect(controlPlane.received).toHaveLength(1)
    expect(controlPlane.received[0]?.tools).toEqual([
      expect.objectContaining({ accountToolInstanceId: "ati-1", statusOnToolbox: "running", instanceName: "with-id" }),
    ])
  })

  it("retries an unreachable backend with backoff until it answers", async () => {
    const { heartbeat, controlPlane } = await setup()
    controlPlane.failNext("unavailable", 2)
    await run(heartbeat.send())
    expect(controlPlane.attempts).toBe(3)
    expect(controlPlane.received).toHaveLength(1)
  })

  it("stops after the configured retries and says the backend is unavailable", async () => {
    const { heartbeat, controlPlane } = await setup()
    controlPlane.failNext("unavailable", 10)
    expect(await failureOf(heartbeat.send())).toMatchObject({ _tag: "ControlPlaneUnavailable" })
    expect(controlPlane.attempts).toBe(4)
  })

  it("does not retry a rejection", async () => {
    const { heartbeat, controlPlane } = await setup()
    controlPlane.failNext("rejected")
    expect(await failureOf(heartbeat.send())).toMatchObject({ _tag: "ControlPlaneRejected", status: 401 })
    expect(controlPlane.attempts).toBe(1)
  })
})

describe("heartbeat of MCP servers", () => {
  it.each([
    ["healthy", "running"],
    ["unhealthy", "error"],
    ["starting", "deploying"],
  ] as const)("reports a running MCP server that is %s as %s, with its transport and health", async (health, expected) => {
    const runtime = new InMemoryContainerRuntime({ images: ["img:1"] })
    const instances = makeInstances({ runtime, settings: { reservedHostPorts: [], stopGraceSeconds: 1 } })
    const c = await run(
      instances.deploy({
        name: "mcp",
        accountToolInstanceId: "ati-m",
        image: "img:1",
        env: [],
        ports: [],
        mcp: { transport: "sse", endpointPath: "/sse", port: 8080 },
      }),
    )
    const mcpServers = { list: () => [{ instanceName: "mcp", containerId: c.containerId, transportType: "sse" as const, healthStatus: health }] }
    const heartbeat = makeHeartbeat({
      runtime,
      controlPlane: new RecordingControlPlane(),
      metrics: new FixedHostMetrics(),
      mcpServers,
      settings: { dtmaVersion: "0.1.0", retries: 0, retryBase: "1 millis" },
    })
    expect((await run(heartbeat.report())).tools).toEqual([expect.objectContaining({ statusOnToolbox: expected, mcp: { transport: "sse", health } })])
  })
})

describe("repeated heartbeats", () => {
  it("send one now and one each interval, report every outcome, and go on past a failure until their fiber ends", async () => {
    const { heartbeat, controlPlane } = await setup()
    const vt = virtualTime()
    const outcomes: Array<string> = []
    controlPlane.failNext("rejected", 1)
    await vt.run(
      Effect.forkScoped(repeatHeartbeats(heartbeat, 60_000, (exit) => Effect.sync(() => void outcomes.push(Exit.isSuccess(exit) ? "ok" : "failed")))),
    )
    await vt.advance(0)
    expect(outcomes).toEqual(["failed"])
    await vt.advance(60_000)
    await vt.advance(60_000)
    expect(outcomes).toEqual(["failed", "ok", "ok"])
    await vt.close()
    expect(controlPlane.received).toHaveLength(2)
  })
})
