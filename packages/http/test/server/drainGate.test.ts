import { once } from "node:events"
import type { AddressInfo } from "node:net"
import type { Server } from "node:http"
import Koa from "koa"
import { afterEach, describe, expect, it } from "vitest"
import { makeDrainGate } from "../../src/server/drainGate.ts"

/** An app behind the gate: `/slow` answers when released, `/events` is a listening stream that never ends. */
const served = async () => {
  const gate = makeDrainGate()
  const release: Array<() => void> = []
  const app = new Koa()
  app.use(gate.middleware)
  app.use(async (ctx) => {
    if (ctx.path === "/events") {
      ctx.respond = false
      ctx.res.writeHead(200, { "content-type": "text/event-stream" }).write(": open\n\n")
      return
    }
    if (ctx.path === "/slow") await new Promise<void>((resolve) => release.push(resolve))
    ctx.body = { ok: ctx.path }
  })
  const server = app.listen(0, "127.0.0.1")
  await once(server, "listening")
  servers.push(server)
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { gate, release: () => release.splice(0).forEach((r) => r()), url }
}
const servers: Array<Server> = []
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    s.close()
  }
})

describe("the drain gate", () => {
  it("lets a call in flight finish while new requests get a 503 saying why, and resolves once none is left", async () => {
    const { gate, release, url } = await served()
    const slow = fetch(`${url}/slow`, { method: "POST" })
    await expect.poll(() => gate.inFlight()).toBe(1)
    let drained: number | null = null
    const draining = gate.drain(5_000).then((left) => (drained = left))

    const refused = await fetch(`${url}/tools/status`)
    expect(refused.status).toBe(503)
    expect(refused.headers.get("retry-after")).toBe("1")
    expect(await refused.json()).toEqual({
      success: false,
      message: "The DTMA is shutting down; retry shortly.",
      error: "The DTMA is shutting down; retry shortly.",
      code: "shutting_down",
    })
    const mcp = await fetch(`${url}/mcp-servers/x/mcp`, { method: "POST", body: "{}" })
    expect(mcp.status).toBe(503)
    expect(await mcp.json()).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32000, message: "The DTMA is shutting down; retry shortly." } })
    expect(drained).toBeNull()

    release()
    expect(await (await slow).json()).toEqual({ ok: "/slow" })
    expect(await draining).toBe(0)
    // The call let in counts as begun; those refused while draining do not.
    expect(gate.begun()).toBe(1)
  })

  it("does not wait for listening event streams, and gives up on calls after the timeout", async () => {
    const { gate, release, url } = await served()
    const stream = await fetch(`${url}/events`, { headers: { accept: "text/event-stream" } })
    expect(stream.status).toBe(200)
    expect(gate.inFlight()).toBe(0)
    expect(gate.begun()).toBe(0)
    expect(await gate.drain(1_000)).toBe(0)

    const other = await served()
    void fetch(`${other.url}/slow`).catch(() => undefined)
    await expect.poll(() => other.gate.inFlight()).toBe(1)
    expect(await other.gate.drain(50)).toBe(1)
    other.release()
    release()
  })
})
