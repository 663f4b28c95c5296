import { Effect, Exit, Fiber } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { openUpstreamSession, type UpstreamOptions } from "../../src/mcp/UpstreamSession.ts"
import type { JsonRpcNotification, JsonRpcRequest } from "../../src/index.ts"
import { settle, virtualTime, type VirtualTime } from "@dtma/testing"
import { initializeResult, notification, scriptedChannel, type Reply, type ScriptedChannel } from "./scriptedChannel.ts"

const options: UpstreamOptions = {
  name: "srv",
  clientInfo: { name: "dtma", version: "0.1.0" },
  protocolVersion: "2025-11-25",
  supportedProtocolVersions: ["2025-11-25", "2025-06-18"],
  initializeTimeoutMs: 1000,
  maxInFlight: 2,
  maxQueued: 1,
}

const server = (script: (r: JsonRpcRequest, c: ScriptedChannel) => Reply = () => ({})) =>
  scriptedChannel((request, channel) => (request.method === "initialize" ? initializeResult : script(request, channel)))

const call = (id: number | string, method = "tools/call", params: Record<string, unknown> = {}): JsonRpcRequest => ({ jsonrpc: "2.0", id, method, params })

let vt: VirtualTime
beforeEach(() => {
  vt = virtualTime()
})
afterEach(() => vt.close())
const open = (channel: ScriptedChannel, opts: UpstreamOptions = options) => vt.run(openUpstreamSession(channel, opts))

describe("an upstream MCP session", () => {
  it("initializes once and keeps what the server said about itself", async () => {
    const channel = server()
    const session = await open(channel)
    expect(session.hello).toMatchObject({
      protocolVersion: "2025-11-25",
      serverInfo: { name: "scripted", version: "1.0.0" },
      capabilities: { tools: { listChanged: true } },
    })
    expect(channel.received.map((m) => ("method" in m ? m.method : "response"))).toEqual(["initialize", "notifications/initialized"])
  })

  it("refuses a server that answers an unsupported protocol version, and closes the channel", async () => {
    const channel = scriptedChannel(() => ({ ...initializeResult, protocolVersion: "1999-01-01" }))
    expect(await vt.failure(openUpstreamSession(channel, options))).toMatchObject({ _tag: "McpConnectFailed", reason: "protocol" })
    expect(await vt.failure(channel.send(notification("x")))).toMatchObject({ reason: "closed" })
  })

  it("gives up on a server that never answers initialize", async () => {
    const channel = scriptedChannel(() => "never")
    const opening = vt.failure(openUpstreamSession(channel, { ...options, initializeTimeoutMs: 50 }))
    await vt.advance(50)
    const error = await opening
    expect(error).toMatchObject({ _tag: "McpConnectFailed", reason: "protocol" })
    expect(error.message).toContain("timed out")
  })

  it("answers each client under its own id and routes progress to the request that asked", async () => {
    const channel = server((r, c) => {
      const token = (r.params?.["_meta"] as { progressToken?: string } | undefined)?.progressToken
      if (token !== undefined) c.emit(notification("notifications/progress", { progressToken: token, progress: 1, total: 2 }))
      return { echo: r.params?.["n"] }
    })
    const session = await open(channel)
    const seen: Array<JsonRpcNotification> = []
    const [a, b] = await Promise.all([
      vt.run(session.forward("A", call(1, "tools/call", { n: "a", _meta: { progressToken: 1 } }), { timeoutMs: 1000, onProgress: (n) => seen.push(n) })),
      vt.run(session.forward("B", call(1, "tools/call", { n: "b" }), { timeoutMs: 1000 })),
    ])
    expect(a).toEqual({ jsonrpc: "2.0", id: 1, result: { echo: "a" } })
    expect(b).toEqual({ jsonrpc: "2.0", id: 1, result: { echo: "b" } })
    expect(seen).toEqual([notification("notifications/progress", { progressToken: 1, progress: 1, total: 2 })])
  })

  it("answers a timed-out request with a RequestTimeout error and cancels it upstream", async () => {
    const channel = server(() => "never")
    const session = await open(channel)
    const answer = vt.run(session.forward("A", call("slow"), { timeoutMs: 30 }))
    await vt.advance(30)
    const response = await answer
    expect(response).toMatchObject({ id: "slow", error: { code: -32001 } })
    expect(channel.received.at(-1)).toMatchObject({ method: "notifications/cancelled", params: { requestId: expect.any(Number) } })
    expect(session.load()).toBe(0)
  })

  it("cancels upstream when the caller interrupts", async () => {
    const channel = server(() => "never")
    const session = await open(channel)
    const fiber = await vt.run(Effect.forkScoped(session.forward("A", call(5), { timeoutMs: 10_000 })))
    await settle()
    await vt.run(Fiber.interrupt(fiber))
    expect(channel.received.at(-1)).toMatchObject({ method: "notifications/cancelled" })
    expect(session.load()).toBe(0)
  })

  it("queues past the in-flight limit and answers busy past the queue, at once", async () => {
    const channel = server(() => "never")
    const session = await open(channel)
    const fibers = await vt.run(Effect.forEach([1, 2, 3], (id) => Effect.forkScoped(session.forward("A", call(id), { timeoutMs: 200 }))))
    await settle()
    expect(session.load()).toBe(3)
    expect(await vt.failure(session.forward("A", call(4), { timeoutMs: 200 }))).toMatchObject({ _tag: "McpServerBusy", inFlight: 3 })
    await vt.advance(200)
    await vt.advance(200)
    const exits = await Promise.all(fibers.map((f) => vt.run(Fiber.await(f))))
    expect(exits.every(Exit.isSuccess)).toBe(true)
    expect(session.load()).toBe(0)
  })

  it("fails pending and later requests once the connection drops, and says so once", async () => {
    const channel = server(() => "never")
    const session = await open(channel)
    const pending = vt.run(session.forward("A", call(1), { timeoutMs: 5000 }))
    await settle()
    channel.drop("container exited")
    channel.drop("again")
    expect(await pending).toMatchObject({ id: 1, error: { code: -32000 } })
    expect(await vt.failure(session.forward("A", call(2), { timeoutMs: 100 }))).toMatchObject({ _tag: "McpConnectFailed", reason: "closed" })
    expect(await vt.run(session.closed)).toBe("container exited")
    expect(session.isOpen()).toBe(false)
  })

  it("passes notifications that belong to no request to subscribers and answers the server's ping", async () => {
    const channel = server()
    const session = await open(channel)
    const seen: Array<string> = []
    const unsubscribe = session.subscribe((n) => seen.push(n.method))
    channel.emit(notification("notifications/tools/list_changed"))
    channel.emit({ jsonrpc: "2.0", id: "srv-1", method: "ping" })
    channel.emit({ jsonrpc: "2.0", id: "srv-2", method: "sampling/createMessage" })
    await settle()
    unsubscribe()
    channel.emit(notification("notifications/resources/list_changed"))
    await settle()
    expect(seen).toEqual(["notifications/tools/list_changed"])
    expect(channel.received.slice(-2)).toEqual([
      { jsonrpc: "2.0", id: "srv-1", result: {} },
      { jsonrpc: "2.0", id: "srv-2", error: { code: -32601, message: "the DTMA does not serve sampling/createMessage" } },
    ])
  })

  it("turns a JSON-RPC error on its own call into a typed failure", async () => {
    const channel = server(() => ({ error: { code: -32601, message: "Method not found" } }))
    const session = await open(channel)
    expect(await vt.failure(session.call("prompts/list", {}, 1000))).toMatchObject({
      _tag: "McpRequestFailed",
      method: "prompts/list",
      error: { code: -32601 },
    })
  })

  it("gives a log message to the request whose own stream carried it, and one that came on no request's stream to subscribers", async () => {
    const log = (data: string) => notification("notifications/message", { level: "info", data })
    const channel = scriptedChannel(
      (r, c) => {
        if (r.method === "initialize") return initializeResult
        c.emit(log(`about ${String(r.params?.["n"])}`), { relatedRequestId: r.id })
        c.emit(log("about nothing"))
        return {}
      },
      { separatesRequests: true },
    )
    const session = await open(channel)
    const unattributed: Array<unknown> = []
    session.subscribe((n) => unattributed.push(n.params?.["data"]))
    const got = { A: [] as Array<unknown>, B: [] as Array<unknown> }
    await Promise.all(
      (["A", "B"] as const).map((who) =>
        vt.run(session.forward(who, call(1, "tools/call", { n: who }), { timeoutMs: 1000, onLogMessage: (n) => void got[who].push(n.params?.["data"]) })),
      ),
    )
    expect(got).toEqual({ A: ["about A"], B: ["about B"] })
    expect(unattributed).toEqual(["about nothing", "about nothing"])
  })

  it("on one shared stream gives a log message to the only request in flight, to subscribers while two are or a cancelled one may run", async () => {
    const channel = server(() => "never")
    const session = await open(channel)
    const unattributed: Array<unknown> = []
    session.subscribe((n) => unattributed.push(n.params?.["data"]))
    const got: Array<unknown> = []
    const logs = (data: string) => {
      channel.emit(notification("notifications/message", { level: "info", data }))
      return settle()
    }
    const forward = (id: number) =>
      vt.run(Effect.forkScoped(session.forward("A", call(id), { timeoutMs: 10_000, onLogMessage: (n) => void got.push(n.params?.["data"]) })))
    const first = await forward(1)
    await settle()
    await logs("one in flight")
    const second = await forward(2)
    await settle()
    await logs("two in flight")
    await vt.run(Fiber.interrupt(first))
    await logs("one in flight, one cancelled")
    await vt.run(Fiber.interrupt(second))
    await logs("none in flight")
    expect(got).toEqual(["one in flight"])
    expect(unattributed).toEqual(["two in flight", "one in flight, one cancelled", "none in flight"])
  })
})
