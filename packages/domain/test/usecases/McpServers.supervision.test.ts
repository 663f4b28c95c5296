import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { callEcho, droplet, request } from "./mcpDroplet.ts"
import { testSupervision } from "./testSupervision.ts"

// How supervision brings back a server that stopped answering (hung, paused) or could not be
// reconnected, over the fakes on virtual time. Crashes and plain reconnections are in McpServers.test.ts.

let d: ReturnType<typeof droplet>
afterEach(() => d.vt.close())
const setUp = async () => {
  d = droplet({ settings: testSupervision({ requestTimeoutMs: 5_000, pingTimeoutMs: 50 }) })
  return (await d.start()).mcp
}
describe("supervising a server that stops answering", () => {
  it("finds a paused server by ping timeout, fails its calls at once, and reconnects without a restart once it runs again", async () => {
    const mcp = await setUp()
    const { containerId } = await d.vt.run(mcp.deploy(request()))
    d.runtime.pause(containerId)
    d.connector.hang(containerId)
    const inFlight = d.vt.run(
      mcp
        .session("echo-server")
        .pipe(
          Effect.flatMap((s) =>
            s.forward(
              "c",
              { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "while paused" } } },
              { timeoutMs: 5_000 },
            ),
          ),
        ),
    )

    await d.until(mcp, "echo-server", (v) => v.healthStatus === "unhealthy" && v.lastError === "the container is paused")
    expect(await inFlight).toMatchObject({ id: 1, error: { code: -32000, message: expect.stringContaining("Connection closed") } })
    const history = (await d.vt.run(mcp.get("echo-server"))).healthHistory.map((h) => `${h.status} ${h.detail ?? ""}`.trim())
    expect(history).toEqual(
      expect.arrayContaining(["degraded no answer to ping within 50 ms", "unhealthy no answer to ping within 50 ms", "unhealthy the container is paused"]),
    )
    expect(await d.vt.failure(mcp.session("echo-server"))).toMatchObject({
      _tag: "McpServerUnavailable",
      health: "unhealthy",
      detail: "the container is paused",
    })

    d.runtime.unpause(containerId)
    await d.connector.resume(containerId)
    await d.until(mcp, "echo-server", (v) => v.healthStatus === "healthy")
    expect(await d.vt.run(mcp.get("echo-server"))).toMatchObject({ restartCount: 0, containerId })
    expect(await d.vt.run(callEcho(mcp, "echo-server", "again"))).toMatchObject({ result: { content: [{ text: "again" }] } })
  })

  it("keeps trying a server it could not reconnect, with a backoff that doubles, and is healthy once it answers", async () => {
    const mcp = await setUp()
    const { containerId } = await d.vt.run(mcp.deploy(request()))
    d.refusing.now = true
    await d.connector.crash(containerId, "attach stream broke")
    await d.until(mcp, "echo-server", (v) => v.healthStatus === "unhealthy" && v.lastError?.includes("nothing serves MCP") === true)
    const attempts = d.connector.connects.length
    // With 20 ms doubling to 40 ms (±20%), 200 ms of virtual time hold 5 to 9 attempts.
    for (let i = 0; i < 20; i++) await d.vt.advance(10)
    expect(d.connector.connects.length - attempts).toBeGreaterThanOrEqual(4)
    expect(d.connector.connects.length - attempts).toBeLessThanOrEqual(9)
    d.refusing.now = false
    await d.until(mcp, "echo-server", (v) => v.healthStatus === "healthy")
    expect(await d.vt.run(mcp.get("echo-server"))).toMatchObject({ restartCount: 0 })
    expect(await d.vt.run(callEcho(mcp, "echo-server", "back"))).toMatchObject({ result: { content: [{ text: "back" }] } })
  })

  it("restarts a server whose container it finds exited when trying to reconnect (the crash went unseen)", async () => {
    const mcp = await setUp()
    const { containerId } = await d.vt.run(mcp.deploy(request()))
    d.refusing.now = true
    await d.connector.crash(containerId, "attach stream broke")
    await d.until(mcp, "echo-server", (v) => v.healthStatus === "unhealthy")
    // The process exits and no die event arrives.
    d.runtime.crash(containerId, 137)
    d.refusing.now = false
    await d.until(mcp, "echo-server", (v) => v.healthStatus === "healthy" && v.restartCount === 1 && v.containerState === "running")
    expect(await d.vt.run(mcp.get("echo-server"))).toMatchObject({ lastError: "container exited with code 137" })
  })

  it("counts an exit once when both a die event and a re-read of the runtime report it, in either order", async () => {
    const mcp = await setUp()
    const { containerId } = await d.vt.run(mcp.deploy(request()))
    // maxCrashes is 3: counting each of these two exits twice would open the circuit.
    for (const eventFirst of [true, false]) {
      await d.until(mcp, "echo-server", (v) => v.healthStatus === "healthy")
      const at = d.vt.now()
      d.runtime.crash(containerId, 1)
      const die = () => d.events.emit({ kind: "die", containerId, name: "echo-server", exitCode: 1, at })
      if (eventFirst) die()
      d.events.simulateGap()
      await d.connector.crash(containerId, "the process exited")
      if (!eventFirst) {
        await d.vt.advance(5)
        die()
      }
      await d.vt.advance(0)
    }
    await d.until(mcp, "echo-server", (v) => v.healthStatus === "healthy" && v.restartCount === 2)
    await d.vt.advance(1_000)
    expect(await d.vt.run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "healthy", restartCount: 2 })
  })
})
