import { Effect, Exit, Fiber } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { openUpstreamSession, type UpstreamOptions } from "../../src/mcp/UpstreamSession.ts"
import type { JsonRpcMessage, JsonRpcNotification, JsonRpcRequest, ServerRequest, ServerRequestAnswer, ServerRequestRelay } from "../../src/index.ts"
import { settle, virtualTime, type VirtualTime } from "@dtma/testing"
import { initializeResult, notification, scriptedChannel, upstreamOptions as options, type Reply, type ScriptedChannel } from "./scriptedChannel.ts"

const server = (script: (r: JsonRpcRequest, c: ScriptedChannel) => Reply = () => ({})) =>
  scriptedChannel((request, channel) => (request.method === "initialize" ? initializeResult : script(request, channel)))

const ONLY_ONE_IN_FLIGHT =
  "sampling/createMessage was not relayed: " +
  "the DTMA relays sampling/createMessage only while exactly one client request is in flight on this connection, to its client"

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
      {
        jsonrpc: "2.0",
        id: "srv-2",
        error: {
          code: -32601,
          message: ONLY_ONE_IN_FLIGHT,
        },
      },
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

  describe("requests the server sends about a forwarded request", () => {
    const sampling = (id: string, text: string): JsonRpcRequest => ({
      jsonrpc: "2.0",
      id,
      method: "sampling/createMessage",
      params: { messages: [{ role: "user", content: { type: "text", text } }], maxTokens: 10 },
    })
    const answersTo = (channel: ScriptedChannel, id: string): Array<JsonRpcMessage> => channel.received.filter((m) => !("method" in m) && m.id === id)
    /** A client that answers each server request with `reply`, after `answered` resolves; what it was asked, and which askings were interrupted. */
    const client = (reply: (request: ServerRequest) => ServerRequestAnswer, timeoutMs = 1_000) => {
      const asked: Array<ServerRequest> = []
      const interrupted: Array<string> = []
      let release: () => void = () => undefined
      const answered = new Promise<void>((resolve) => (release = resolve))
      const relay: ServerRequestRelay = {
        timeoutMs,
        ask: (request) =>
          Effect.suspend(() => {
            asked.push(request)
            return Effect.promise(() => answered).pipe(
              Effect.as(reply(request)),
              Effect.onInterrupt(() => Effect.sync(() => void interrupted.push(request.method))),
            )
          }),
      }
      return { relay, asked, interrupted, release: () => release() }
    }

    it("declares in initialize the client capabilities it relays", async () => {
      const channel = server()
      await open(channel)
      expect(channel.received[0]).toMatchObject({ method: "initialize", params: { capabilities: { sampling: {}, elicitation: { form: {} }, roots: {} } } })
    })

    it("asks the client whose request's own stream carried it, and answers the server under its own id", async () => {
      const channel = scriptedChannel(
        (r, c) => {
          if (r.method === "initialize") return initializeResult
          if (r.method === "tools/call") c.emit(sampling(`srv-${String(r.params?.["n"])}`, `for ${String(r.params?.["n"])}`), { relatedRequestId: r.id })
          return "never"
        },
        { separatesRequests: true },
      )
      const session = await open(channel)
      const clients = {
        A: client((r) => ({ result: { text: `A answers ${JSON.stringify(r.params?.["messages"])}` } })),
        B: client(() => ({ result: { text: "B" } })),
      }
      const calls = await Promise.all(
        (["A", "B"] as const).map((who) =>
          vt.run(Effect.forkScoped(session.forward(who, call(1, "tools/call", { n: who }), { timeoutMs: 10_000, serverRequests: clients[who].relay }))),
        ),
      )
      await settle()
      clients.A.release()
      clients.B.release()
      await settle()
      expect(clients.A.asked.map((r) => r.params?.["messages"])).toEqual([[{ role: "user", content: { type: "text", text: "for A" } }]])
      expect(clients.B.asked.map((r) => r.params?.["messages"])).toEqual([[{ role: "user", content: { type: "text", text: "for B" } }]])
      expect(answersTo(channel, "srv-A")).toEqual([{ jsonrpc: "2.0", id: "srv-A", result: { text: expect.stringContaining("A answers") } }])
      expect(answersTo(channel, "srv-B")).toEqual([{ jsonrpc: "2.0", id: "srv-B", result: { text: "B" } }])
      for (const f of calls) await vt.run(Fiber.interrupt(f))
    })

    it("refuses one that came on no request's stream of a transport with a stream per request, asking nobody", async () => {
      const channel = scriptedChannel((r) => (r.method === "initialize" ? initializeResult : "never"), { separatesRequests: true })
      const session = await open(channel)
      const only = client(() => ({ result: {} }))
      const fiber = await vt.run(Effect.forkScoped(session.forward("A", call(1), { timeoutMs: 10_000, serverRequests: only.relay })))
      await settle()
      channel.emit(sampling("srv-1", "unrelated"))
      await settle()
      expect(only.asked).toEqual([])
      expect(answersTo(channel, "srv-1")).toEqual([
        {
          jsonrpc: "2.0",
          id: "srv-1",
          error: { code: -32601, message: expect.stringContaining("only on the event stream of the client request it is about") },
        },
      ])
      await vt.run(Fiber.interrupt(fiber))
    })

    it("over one shared stream asks the client of the only request in flight, and nobody while two are", async () => {
      const channel = server(() => "never")
      const session = await open(channel)
      const first = client(() => ({ result: { from: "first" } }))
      const second = client(() => ({ result: { from: "second" } }))
      first.release()
      second.release()
      const one = await vt.run(Effect.forkScoped(session.forward("A", call(1), { timeoutMs: 10_000, serverRequests: first.relay })))
      await settle()
      channel.emit(sampling("srv-1", "while one"))
      await settle()
      const two = await vt.run(Effect.forkScoped(session.forward("B", call(2), { timeoutMs: 10_000, serverRequests: second.relay })))
      await settle()
      channel.emit(sampling("srv-2", "while two"))
      await settle()
      expect(answersTo(channel, "srv-1")).toEqual([{ jsonrpc: "2.0", id: "srv-1", result: { from: "first" } }])
      expect(answersTo(channel, "srv-2")).toEqual([{ jsonrpc: "2.0", id: "srv-2", error: { code: -32601, message: expect.stringContaining("exactly one") } }])
      expect([first.asked.length, second.asked.length]).toEqual([1, 0])
      await vt.run(Fiber.interrupt(one))
      await vt.run(Fiber.interrupt(two))
    })

    it("refuses one about the DTMA's own request, which has nobody to ask", async () => {
      const channel = server((r, c) => {
        c.emit(sampling("srv-own", "during discovery"))
        return r.method === "tools/list" ? { tools: [] } : {}
      })
      const session = await open(channel)
      await vt.run(session.call("tools/list", {}, 1000))
      await settle()
      expect(answersTo(channel, "srv-own")).toEqual([
        { jsonrpc: "2.0", id: "srv-own", error: { code: -32601, message: expect.stringContaining("the DTMA's own request") } },
      ])
    })

    it("answers the server RequestTimeout when the client does not answer in time, and stops asking", async () => {
      const channel = server((r, c) => {
        c.emit(sampling("srv-1", "slow"))
        return "never"
      })
      const session = await open(channel)
      const slow = client(() => ({ result: {} }), 500)
      const fiber = await vt.run(Effect.forkScoped(session.forward("A", call(1), { timeoutMs: 10_000, serverRequests: slow.relay })))
      await settle()
      await vt.advance(500)
      expect(answersTo(channel, "srv-1")).toEqual([
        { jsonrpc: "2.0", id: "srv-1", error: { code: -32001, message: "the client did not answer sampling/createMessage within 500 ms" } },
      ])
      expect(slow.interrupted).toEqual(["sampling/createMessage"])
      await vt.run(Fiber.interrupt(fiber))
    })

    it("stops asking and answers the server an error when the client request ends first", async () => {
      const channel = server((r, c) => {
        c.emit(sampling("srv-1", "then cancelled"))
        return "never"
      })
      const session = await open(channel)
      const pending = client(() => ({ result: {} }))
      const fiber = await vt.run(Effect.forkScoped(session.forward("A", call(1), { timeoutMs: 10_000, serverRequests: pending.relay })))
      await settle()
      await vt.run(Fiber.interrupt(fiber))
      await settle()
      expect(pending.interrupted).toEqual(["sampling/createMessage"])
      expect(answersTo(channel, "srv-1")).toEqual([
        { jsonrpc: "2.0", id: "srv-1", error: { code: -32600, message: expect.stringContaining("ended before its client answered") } },
      ])
    })

    it("stops asking when the server cancels its request, and answers it nothing", async () => {
      const channel = server((r, c) => {
        c.emit(sampling("srv-1", "withdrawn"))
        return "never"
      })
      const session = await open(channel)
      const seen: Array<string> = []
      session.subscribe((n) => seen.push(n.method))
      const pending = client(() => ({ result: {} }))
      const fiber = await vt.run(Effect.forkScoped(session.forward("A", call(1), { timeoutMs: 10_000, serverRequests: pending.relay })))
      await settle()
      channel.emit(notification("notifications/cancelled", { requestId: "srv-1", reason: "no longer needed" }))
      await settle()
      expect(pending.interrupted).toEqual(["sampling/createMessage"])
      expect(answersTo(channel, "srv-1")).toEqual([])
      expect(seen).toEqual([])
      await vt.run(Fiber.interrupt(fiber))
    })
  })
})
