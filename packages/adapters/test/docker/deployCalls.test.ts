import { Effect, Exit, Redacted, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { makeInstances, makeMcpServers, type DeployRequest, type McpServersSettings } from "@dtma/domain"
import { InMemoryContainerLogs, InMemoryMcpConnector, run, settle } from "@dtma/testing"
import { makeDockerContainerEvents } from "../../src/docker/DockerContainerEvents.ts"
import { makeDockerContainerRuntime } from "../../src/docker/DockerContainerRuntime.ts"
import { FakeDockerApi } from "./FakeDockerApi.ts"

const IMAGE = "mcp/echo:1"
const settings: McpServersSettings = {
  clientInfo: { name: "dtma", version: "0.1.0" },
  protocolVersion: "2025-11-25",
  supportedProtocolVersions: ["2025-11-25", "2025-06-18", "2025-03-26"],
  startTimeoutMs: 1_000,
  requestTimeoutMs: 1_000,
  pingTimeoutMs: 1_000,
  pingBaseMs: 60_000,
  pingMaxMs: 60_000,
  discoveryIntervalMs: 600_000,
  restartPolicy: { baseDelayMs: 10, maxDelayMs: 40, maxCrashes: 3, windowMs: 60_000 },
  maxInFlight: 8,
  maxQueued: 16,
  drainTimeoutMs: 200,
}

const request = (name: string): DeployRequest => ({
  name,
  accountToolInstanceId: `ati-${name}`,
  image: IMAGE,
  env: [{ name: "TOKEN", value: Redacted.make("t") }],
  ports: [],
  mcp: { transport: "stdio", endpointPath: null, port: null },
})

let scope: Scope.Closeable | undefined
afterEach(async () => {
  if (scope !== undefined) await run(Scope.close(scope, Exit.void))
  scope = undefined
})

/** MCP supervision over the Docker runtime on a fake engine, wired as in production, with ten tools already listed. */
const droplet = async () => {
  const docker = new FakeDockerApi()
  docker.images.add(IMAGE)
  const events = makeDockerContainerEvents(docker)
  const runtime = makeDockerContainerRuntime(docker, { events })
  const connector = new InMemoryMcpConnector()
  // Every container serves the echo server once connected to.
  const serving = Object.assign(Object.create(connector) as InMemoryMcpConnector, {
    connect: (target: Parameters<InMemoryMcpConnector["connect"]>[0], options: { timeoutMs: number }) =>
      Effect.sync(() => connector.register(target.containerId)).pipe(Effect.andThen(connector.connect(target, options))),
  })
  const instances = makeInstances({ runtime, settings: { reservedHostPorts: [], stopGraceSeconds: 1 } })
  scope = Scope.makeUnsafe()
  const logs = new InMemoryContainerLogs()
  const mcp = await run(makeMcpServers({ instances, runtime, connector: serving, logs, events, settings }).pipe(Scope.provide(scope)))
  for (let i = 0; i < 10; i++) await run(instances.deploy({ ...request(`tool-${i}`), mcp: null }))
  await run(instances.list())
  await settle()
  /** The container inspects and list calls `body` makes. */
  const callsOf = async (body: () => Promise<unknown>) => {
    const before = { ...docker.calls }
    await body()
    await settle()
    return { inspects: docker.calls.inspectContainer - before.inspectContainer, lists: docker.calls.listContainers - before.listContainers }
  }
  return { mcp, instances, callsOf }
}

// Before the inventory: a deploy beside ten containers made 14 inspects (10 for its list, 4 of the
// new container) and a status list 11 (every container and the new one).
describe("Docker calls of an MCP deploy over the fake Docker API", () => {
  it("deploys with one list and one inspect, of the new container, which it connects to as started", async () => {
    const { mcp, callsOf } = await droplet()
    expect(await callsOf(() => run(mcp.deploy(request("srv"))))).toEqual({ inspects: 1, lists: 1 })
    expect(mcp.list().map((s) => s.healthStatus)).toEqual(["healthy"])
  })

  it("lists every container afterwards (a status, a heartbeat) without inspecting any", async () => {
    const { mcp, instances, callsOf } = await droplet()
    await run(mcp.deploy(request("srv")))
    await settle()
    expect(await callsOf(() => run(instances.list()))).toEqual({ inspects: 0, lists: 1 })
  })
})
