import { Effect, Redacted } from "effect"
import { testSupervision } from "./testSupervision.ts"
import { afterEach, describe, expect, it, vi } from "vitest"
import { makeInstances, makeMcpServers, type DeployRequest, type McpServers } from "../src/index.ts"
import { echoMcpServer, failureOf, InMemoryContainerEvents, InMemoryContainerLogs, InMemoryContainerRuntime, InMemoryMcpConnector, run } from "@dtma/testing"

// How the supervisor brings back a server that stopped answering (hung, paused) or could not be
// reconnected, over the fakes. Crashes and plain reconnections are in McpServers.test.ts.

const settings = testSupervision({ requestTimeoutMs: 5_000, pingTimeoutMs: 50 })

/** The fakes wired as a droplet: a running container serves the echo server; any other refuses connections. */
const droplet = () => {
  const runtime = new InMemoryContainerRuntime({ images: ["mcp/echo:1"] })
  const connector = new InMemoryMcpConnector()
  const refusing = { now: false }
  const serving: typeof connector = Object.assign(Object.create(connector) as InMemoryMcpConnector, {
    connect: (target: Parameters<InMemoryMcpConnector["connect"]>[0], options: { timeoutMs: number }) =>
      runtime.get(target.containerId).pipe(
        Effect.tap((c) => Effect.sync(() => {
          if (c.state === "running" && !refusing.now) connector.register(c.containerId, echoMcpServer)
          else connector.makeUnreachable(c.containerId)
        })),
        Effect.ignore,
        Effect.andThen(connector.connect(target, options)),
      ),
  })
  const instances = makeInstances({ runtime, settings: { reservedHostPorts: [30000], stopGraceSeconds: 1 } })
  const events = new InMemoryContainerEvents()
  const mcp = makeMcpServers({ instances, runtime, connector: serving, logs: new InMemoryContainerLogs(), events, settings })
  live.push(mcp)
  return { runtime, connector, refusing, events, mcp }
}

const request: DeployRequest = {
  name: "echo-server",
  accountToolInstanceId: "ati-1",
  image: "mcp/echo:1",
  env: [{ name: "TOKEN", value: Redacted.make("t") }],
  ports: [],
  mcp: { transport: "stdio", endpointPath: null, port: null },
}

const callEcho = (mcp: McpServers, text: string) =>
  mcp.session("echo-server").pipe(Effect.flatMap((s) => s.forward("client-1", { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text } } }, { timeoutMs: 5_000 })))

let live: Array<McpServers> = []
afterEach(async () => {
  for (const mcp of live) await run(mcp.shutdown())
  live = []
})

describe("supervising a server that stops answering", () => {
  it("finds a paused server by ping timeout, fails its calls at once, and reconnects without a restart once it runs again", async () => {
    const { runtime, connector, mcp } = droplet()
    const { containerId } = await run(mcp.deploy(request))
    runtime.pause(containerId)
    connector.hang(containerId)
    const inFlight = Effect.runPromise(callEcho(mcp, "while paused"))

    await vi.waitFor(async () => expect(await run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "unhealthy", lastError: "the container is paused" }))
    expect(await inFlight).toMatchObject({ id: 1, error: { code: -32000, message: expect.stringContaining("Connection closed") } })
    const history = (await run(mcp.get("echo-server"))).healthHistory.map((h) => `${h.status} ${h.detail ?? ""}`.trim())
    expect(history).toEqual(expect.arrayContaining(["degraded no answer to ping within 50 ms", "unhealthy no answer to ping within 50 ms", "unhealthy the container is paused"]))
    expect(await failureOf(mcp.session("echo-server"))).toMatchObject({ _tag: "McpServerUnavailable", health: "unhealthy", detail: "the container is paused" })

    runtime.unpause(containerId)
    await connector.resume(containerId)
    await vi.waitFor(async () => expect(await run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "healthy", restartCount: 0, containerId }))
    expect(await run(callEcho(mcp, "again"))).toMatchObject({ result: { content: [{ text: "again" }] } })
  })

  it("keeps trying a server it could not reconnect, with backoff, and is healthy once it answers", async () => {
    const { connector, refusing, mcp } = droplet()
    const { containerId } = await run(mcp.deploy(request))
    refusing.now = true
    await connector.crash(containerId, "attach stream broke")
    await vi.waitFor(async () => expect(await run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "unhealthy", lastError: expect.stringContaining("nothing serves MCP") }))
    const attempts = connector.connects.length
    await new Promise((r) => setTimeout(r, 200))
    // Tried again, but paced: with 20 ms doubling to 40 ms, at most a handful of attempts in 200 ms.
    expect(connector.connects.length - attempts).toBeGreaterThan(0)
    expect(connector.connects.length - attempts).toBeLessThan(10)
    refusing.now = false
    await vi.waitFor(async () => expect(await run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "healthy", restartCount: 0 }))
    expect(await run(callEcho(mcp, "back"))).toMatchObject({ result: { content: [{ text: "back" }] } })
  })

  it("restarts a server whose container it finds exited when trying to reconnect (the crash went unseen)", async () => {
    const { runtime, connector, refusing, mcp } = droplet()
    const { containerId } = await run(mcp.deploy(request))
    refusing.now = true
    await connector.crash(containerId, "attach stream broke")
    await vi.waitFor(async () => expect((await run(mcp.get("echo-server"))).healthStatus).toBe("unhealthy"))
    // The process exits and no die event arrives.
    runtime.crash(containerId, 137)
    refusing.now = false
    await vi.waitFor(async () => expect(await run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "healthy", restartCount: 1, containerState: "running" }))
  })

  it("counts an exit once when both a die event and a re-read of the runtime report it, in either order", async () => {
    const { runtime, connector, events, mcp } = droplet()
    const { containerId } = await run(mcp.deploy(request))
    // maxCrashes is 3: counting each of these two exits twice would open the circuit.
    for (const eventFirst of [true, false]) {
      await vi.waitFor(async () => expect((await run(mcp.get("echo-server"))).healthStatus).toBe("healthy"))
      const at = Date.now()
      runtime.crash(containerId, 1)
      const die = () => events.emit({ kind: "die", containerId, name: "echo-server", exitCode: 1, at })
      if (eventFirst) die()
      events.simulateGap()
      await connector.crash(containerId, "the process exited")
      if (!eventFirst) await new Promise((r) => setTimeout(r, 30)).then(die)
    }
    await vi.waitFor(async () => expect(await run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "healthy", restartCount: 2 }))
    await new Promise((r) => setTimeout(r, 100))
    expect(await run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "healthy", restartCount: 2 })
  })
})
