import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { openUpstreamSession } from "../../src/mcp/UpstreamSession.ts"
import type { JsonRpcMessage, JsonRpcRequest } from "../../src/index.ts"
import { healthMethodOf } from "../../src/mcp/modernUpstream.ts"
import { MAX_INPUT_ROUNDS } from "../../src/mcp/inputBridge.ts"
import type { ServerRequestAnswer } from "../../src/mcp/UpstreamSession.ts"
import * as Effect from "effect/Effect"
import { virtualTime, type VirtualTime } from "@dtma/testing"
import { initializeResult, scriptedChannel, upstreamOptions as options, type Reply, type ScriptedChannel } from "./scriptedChannel.ts"

// A server that speaks only MCP 2026-07-28 (basic/versioning.mdx): it refuses `initialize` and
// answers `server/discover`; every request must carry the envelope.

const PV = "io.modelcontextprotocol/protocolVersion"

const discovered = {
  supportedVersions: ["2026-07-28"],
  capabilities: { tools: {} },
  instructions: "use echo",
  resultType: "complete",
  ttlMs: 0,
  cacheScope: "public",
  _meta: { "io.modelcontextprotocol/serverInfo": { name: "modern", version: "2.0.0" } },
}

const UNSUPPORTED = { error: { code: -32022, message: "Unsupported protocol version: 2025-11-25" } }

/** A modern-only server: `script` answers what comes after discovery; a request without the envelope is refused -32602. */
const modernServer = (script: (r: JsonRpcRequest) => Reply = () => ({ resultType: "complete" })) =>
  scriptedChannel((request) => {
    if (request.method === "initialize") return UNSUPPORTED
    const meta = request.params?.["_meta"] as Record<string, unknown> | undefined
    if (meta?.[PV] !== "2026-07-28") return { error: { code: -32602, message: "missing _meta protocolVersion" } }
    return request.method === "server/discover" ? discovered : script(request)
  })

const methods = (channel: ScriptedChannel) => channel.received.map((m: JsonRpcMessage) => ("method" in m ? m.method : "response"))
const call = (id: number, method: string, params: Record<string, unknown> = {}): JsonRpcRequest => ({ jsonrpc: "2.0", id, method, params })

let vt: VirtualTime
beforeEach(() => {
  vt = virtualTime()
})
afterEach(() => vt.close())
const open = (channel: ScriptedChannel) => vt.run(openUpstreamSession(channel, options))

describe("an upstream session to a server that speaks only 2026-07-28", () => {
  it("probes server/discover once initialize is refused, and keeps what discovery said", async () => {
    const channel = modernServer()
    const session = await open(channel)
    expect(session.hello).toMatchObject({
      protocolVersion: "2026-07-28",
      serverInfo: { name: "modern", version: "2.0.0" },
      capabilities: { tools: {} },
      instructions: "use echo",
      result: { protocolVersion: "2025-11-25", serverInfo: { name: "modern", version: "2.0.0" } },
    })
    expect(methods(channel)).toEqual(["initialize", "server/discover"])
    expect(channel.received[1]).toMatchObject({
      params: { _meta: { [PV]: "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": options.clientInfo } },
    })
    expect(healthMethodOf(session.hello)).toBe("server/discover")
  })

  it("sends a 2025-era request with the DTMA's envelope and answers it without the 2026-07-28 result fields", async () => {
    const channel = modernServer(() => ({ tools: [{ name: "echo" }], resultType: "complete", ttlMs: 5, cacheScope: "public" }))
    const session = await open(channel)
    const response = await vt.run(session.forward("s1", call(7, "tools/list"), { timeoutMs: 1000 }))
    expect(response).toEqual({ jsonrpc: "2.0", id: 7, result: { tools: [{ name: "echo" }] } })
    expect(channel.received.at(-1)).toMatchObject({ method: "tools/list", params: { _meta: { [PV]: "2026-07-28" } } })
  })

  it("tells a 2025-era requester that the server asked for input it cannot be asked", async () => {
    const session = await open(modernServer(() => ({ resultType: "input_required", requestState: "opaque" })))
    const response = await vt.run(session.forward("s1", call(8, "tools/call", { name: "ask" }), { timeoutMs: 1000 }))
    expect(response).toMatchObject({ id: 8, error: { code: -32603 } })
    expect("error" in response && response.error.message).toContain("input_required")
  })

  describe("a 2025-era client's request the server asks input for (mrtr.mdx)", () => {
    const CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
    const elicit = { method: "elicitation/create", params: { mode: "form", message: "Your name?", requestedSchema: { type: "object" } } }
    /** After `rounds` answers of only its state, asks a name and the client's roots in one round, then greets with both. */
    const asking = (rounds = 0) =>
      modernServer((request) => {
        const params = request.params ?? {}
        const answers = params["inputResponses"] as Record<string, { content?: { name?: string }; roots?: Array<unknown> }> | undefined
        const state = String(params["requestState"] ?? "wait-0")
        if (state === "asked" && answers?.["name"]?.content?.name !== undefined)
          return {
            resultType: "complete",
            content: [{ type: "text", text: `hello ${answers["name"].content.name}, ${answers["roots"]?.roots?.length} roots` }],
          }
        const waited = Number(state.slice("wait-".length))
        if (state.startsWith("wait-") && waited < rounds) return { resultType: "input_required", requestState: `wait-${waited + 1}` }
        return { resultType: "input_required", inputRequests: { name: elicit, roots: { method: "roots/list" } }, requestState: "asked" }
      })
    const relay = (
      answer: (r: { method: string }) => ServerRequestAnswer = (r) =>
        r.method === "roots/list" ? { result: { roots: [{ uri: "file:///a" }] } } : { result: { action: "accept", content: { name: "Ada" } } },
    ) => {
      const asked: Array<{ method: string; params?: unknown }> = []
      return {
        asked,
        serverRequests: {
          timeoutMs: 500,
          capabilities: { elicitation: { form: {} }, roots: {}, experimental: { x: {} } },
          ask: (r: { method: string; params?: unknown }) => Effect.sync(() => (asked.push(r), answer(r))),
        },
      }
    }

    it("puts each question to the client, then retries with its answers and the server's state, and answers the result", async () => {
      const channel = asking()
      const session = await open(channel)
      const { asked, serverRequests } = relay()
      const response = await vt.run(session.forward("s1", call(10, "tools/call", { name: "greet", arguments: { a: 1 } }), { timeoutMs: 1000, serverRequests }))
      expect(response).toEqual({ jsonrpc: "2.0", id: 10, result: { content: [{ type: "text", text: "hello Ada, 1 roots" }] } })
      expect(asked).toEqual([elicit, { method: "roots/list" }])
      const [first, retry] = channel.received.filter((m) => "method" in m && m.method === "tools/call") as Array<JsonRpcRequest>
      // The client's declared capabilities the server may ask for, and no others, in both rounds' envelopes.
      for (const sent of [first!, retry!]) expect(sent.params).toMatchObject({ _meta: { [CAPABILITIES]: { elicitation: { form: {} }, roots: {} } } })
      expect(Object.keys((first!.params!["_meta"] as Record<string, Record<string, unknown>>)[CAPABILITIES]!)).toEqual(["elicitation", "roots"])
      expect(retry!.params).toMatchObject({
        name: "greet",
        arguments: { a: 1 },
        inputResponses: { name: { action: "accept", content: { name: "Ada" } }, roots: { roots: [{ uri: "file:///a" }] } },
        requestState: "asked",
      })
      expect(retry!.id).not.toBe(first!.id)
    })

    it("retries with only the state when the server asks nothing, as often as it says, up to the bound", async () => {
      const channel = asking(3)
      const session = await open(channel)
      const { serverRequests } = relay()
      const answered = await vt.run(session.forward("s1", call(11, "tools/call", { name: "greet" }), { timeoutMs: 1000, serverRequests }))
      expect(answered).toMatchObject({ id: 11, result: { content: [{ text: "hello Ada, 1 roots" }] } })
      const sent = channel.received.filter((m) => "method" in m && m.method === "tools/call") as Array<JsonRpcRequest>
      expect(sent.map((m) => [m.params?.["requestState"], m.params?.["inputResponses"] === undefined])).toEqual([
        [undefined, true],
        ["wait-1", true],
        ["wait-2", true],
        ["wait-3", true],
        ["asked", false],
      ])
      const endless = await open(modernServer(() => ({ resultType: "input_required", requestState: "more" })))
      const refused = await vt.run(endless.forward("s1", call(12, "tools/call", { name: "greet" }), { timeoutMs: 1000, serverRequests }))
      expect(refused).toMatchObject({ id: 12, error: { code: -32603, message: expect.stringContaining(`after ${MAX_INPUT_ROUNDS} rounds`) } })
    })

    it("ends the request with the client's error when it cannot answer a question, and retries nothing", async () => {
      const channel = asking()
      const session = await open(channel)
      const { serverRequests } = relay((r) =>
        r.method === "roots/list" ? { error: { code: -32601, message: "roots are not offered" } } : { result: { action: "decline" } },
      )
      const response = await vt.run(session.forward("s1", call(13, "tools/call", { name: "greet" }), { timeoutMs: 1000, serverRequests }))
      expect(response).toMatchObject({ id: 13, error: { code: -32601, message: expect.stringContaining("roots are not offered") } })
      expect(channel.received.filter((m) => "method" in m && m.method === "tools/call")).toHaveLength(1)
    })

    it("answers an input_required that breaks the spec with an error, not a retry", async () => {
      for (const result of [{ inputRequests: { a: { params: {} } } }, { requestState: 7 }, {}, { inputRequests: ["x"] }]) {
        const channel = modernServer(() => ({ resultType: "input_required", ...result }))
        const session = await open(channel)
        const response = await vt.run(session.forward("s1", call(14, "tools/call", { name: "x" }), { timeoutMs: 1000, serverRequests: relay().serverRequests }))
        expect(response).toMatchObject({ id: 14, error: { code: -32603, message: expect.stringContaining("without valid inputRequests") } })
      }
    })
  })

  it("passes a 2026-07-28 request through with its own envelope, and its answer untouched", async () => {
    const channel = modernServer(() => ({ resultType: "input_required", inputRequests: { r1: { method: "elicitation/create" } }, requestState: "s" }))
    const session = await open(channel)
    const envelope = { [PV]: "2026-07-28", "io.modelcontextprotocol/clientCapabilities": { elicitation: {} }, "io.modelcontextprotocol/logLevel": "info" }
    const response = await vt.run(session.forward("s1", call(9, "tools/call", { name: "ask", _meta: envelope }), { timeoutMs: 1000 }))
    expect(response).toEqual({
      jsonrpc: "2.0",
      id: 9,
      result: { resultType: "input_required", inputRequests: { r1: { method: "elicitation/create" } }, requestState: "s" },
    })
    expect(channel.received.at(-1)).toMatchObject({ params: { name: "ask", _meta: envelope } })
  })

  it("lists through the DTMA's own calls, as discovery does", async () => {
    const session = await open(modernServer(() => ({ prompts: [], resultType: "complete", ttlMs: 0, cacheScope: "private" })))
    expect(await vt.run(session.call("prompts/list", {}, 1000))).toEqual({ prompts: [] })
    expect(await vt.run(session.call("server/discover", {}, 1000))).toMatchObject({ supportedVersions: ["2026-07-28"] })
  })

  it("sends no notification the revision removed", async () => {
    const channel = modernServer()
    const session = await open(channel)
    await vt.run(session.notify({ jsonrpc: "2.0", method: "notifications/roots/list_changed" }))
    expect(methods(channel)).toEqual(["initialize", "server/discover"])
  })

  it("fails with the refusal of initialize when the server does not answer server/discover with 2026-07-28", async () => {
    const channel = scriptedChannel((r) => (r.method === "initialize" ? { error: { code: -32603, message: "broken" } } : { supportedVersions: ["2099-01-01"] }))
    const error = await vt.failure(openUpstreamSession(channel, options))
    expect(error).toMatchObject({ _tag: "McpConnectFailed", reason: "protocol" })
    expect(error.message).toContain("broken")
    expect(methods(channel)).toEqual(["initialize", "server/discover"])
  })

  it("gives a server that refused initialize and stays silent on server/discover only the probe's time, then fails with the refusal", async () => {
    const channel = scriptedChannel((r) => (r.method === "initialize" ? { error: { code: -32603, message: "no API key" } } : "never"))
    const opening = vt.failure(openUpstreamSession(channel, { ...options, initializeTimeoutMs: 1_000, probeTimeoutMs: 50 }))
    await vt.advance(50)
    const error = await opening
    expect(error.message).toContain("no API key")
  })

  it("does not probe a server that never answers initialize", async () => {
    const channel = scriptedChannel(() => "never")
    const opening = vt.failure(openUpstreamSession(channel, { ...options, initializeTimeoutMs: 50 }))
    await vt.advance(50)
    expect((await opening).message).toContain("timed out")
    expect(methods(channel)).not.toContain("server/discover")
  })

  it("keeps a server that answers initialize on the 2025-era wire, without a probe", async () => {
    const channel = scriptedChannel((r) => (r.method === "initialize" ? initializeResult : {}))
    const session = await open(channel)
    await vt.run(session.forward("s1", call(3, "tools/list"), { timeoutMs: 1000 }))
    expect(methods(channel)).toEqual(["initialize", "notifications/initialized", "tools/list"])
    expect(channel.received.at(-1)).toEqual({ jsonrpc: "2.0", id: expect.any(Number), method: "tools/list", params: {} })
    expect(healthMethodOf(session.hello)).toBe("ping")
  })
})

describe("the list changes of a server that speaks only 2026-07-28 (subscriptions.mdx)", () => {
  const SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"
  const settled = () => new Promise((resolve) => setTimeout(resolve, 5))
  /** A modern server with `capabilities` that never ends a listen and answers anything else at once. */
  const listening = (capabilities: Record<string, unknown>) =>
    scriptedChannel((request) => {
      if (request.method === "initialize") return UNSUPPORTED
      if (request.method === "server/discover") return { ...discovered, capabilities }
      return request.method === "subscriptions/listen" ? "never" : { resultType: "complete", tools: [] }
    })
  const listenOf = (channel: ScriptedChannel) =>
    channel.received.find((m) => "method" in m && m.method === "subscriptions/listen") as JsonRpcRequest | undefined

  it("keeps one listen open for the changes the server sends, outside the concurrency gate, and hands them on as a 2025-era server's", async () => {
    const channel = listening({ tools: { listChanged: true }, prompts: { listChanged: true }, resources: { subscribe: true } })
    // One call at a time: were the listen holding the slot, no call would ever go.
    const session = await vt.run(openUpstreamSession(channel, { ...options, maxInFlight: 1 }))
    await settled()
    const listen = listenOf(channel)
    expect(listen?.params).toEqual({
      notifications: { toolsListChanged: true, promptsListChanged: true },
      _meta: expect.objectContaining({ [PV]: "2026-07-28" }),
    })
    const heard: Array<unknown> = []
    session.subscribe((n) => heard.push(n))
    channel.emit({ jsonrpc: "2.0", method: "notifications/subscriptions/acknowledged", params: { _meta: { [SUBSCRIPTION]: listen!.id }, notifications: {} } })
    channel.emit({ jsonrpc: "2.0", method: "notifications/tools/list_changed", params: { _meta: { [SUBSCRIPTION]: listen!.id } } })
    channel.emit({ jsonrpc: "2.0", method: "notifications/prompts/list_changed", params: { _meta: { [SUBSCRIPTION]: listen!.id, other: 1 } } })
    await settled()
    expect(heard).toEqual([
      { jsonrpc: "2.0", method: "notifications/tools/list_changed", params: {} },
      { jsonrpc: "2.0", method: "notifications/prompts/list_changed", params: { _meta: { other: 1 } } },
    ])
    expect(session.load()).toBe(0)
    expect(await vt.run(session.forward("s1", call(1, "tools/list"), { timeoutMs: 1000 }))).toMatchObject({ id: 1, result: { tools: [] } })
  })

  it("cancels its listen when the session closes, and opens none for a server that sends no list changes", async () => {
    const channel = listening({ tools: { listChanged: true } })
    const session = await open(channel)
    await settled()
    const listen = listenOf(channel)
    await vt.run(session.close())
    expect(channel.received.at(-1)).toMatchObject({ method: "notifications/cancelled", params: { requestId: listen!.id } })
    const quiet = listening({ tools: {}, resources: { subscribe: true, listChanged: false } })
    await open(quiet)
    await settled()
    expect(listenOf(quiet)).toBeUndefined()
  })

  it("serves a 2025-era resources/subscribe by a listen of its own for that resource, once however often asked, and ends it on unsubscribe", async () => {
    const channel = listening({ resources: { subscribe: true } })
    const session = await open(channel)
    const heard: Array<unknown> = []
    session.subscribe((n) => heard.push(n))
    const ask = (id: number, method: string, params: Record<string, unknown>) => vt.run(session.forward("s1", call(id, method, params), { timeoutMs: 1000 }))
    expect(await ask(20, "resources/subscribe", { uri: "file:///a" })).toEqual({ jsonrpc: "2.0", id: 20, result: {} })
    expect(await ask(21, "resources/subscribe", { uri: "file:///a" })).toEqual({ jsonrpc: "2.0", id: 21, result: {} })
    await settled()
    const listens = channel.received.filter((m) => "method" in m && m.method === "subscriptions/listen") as Array<JsonRpcRequest>
    expect(listens.map((m) => m.params?.["notifications"])).toEqual([{ resourceSubscriptions: ["file:///a"] }])
    expect(methods(channel)).not.toContain("resources/subscribe")
    channel.emit({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "file:///a", _meta: { [SUBSCRIPTION]: listens[0]!.id } } })
    await settled()
    expect(heard).toEqual([{ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "file:///a" } }])
    expect(await ask(22, "resources/unsubscribe", { uri: "file:///a" })).toEqual({ jsonrpc: "2.0", id: 22, result: {} })
    expect(channel.received.at(-1)).toMatchObject({ method: "notifications/cancelled", params: { requestId: listens[0]!.id } })
    expect(await ask(23, "resources/subscribe", {})).toMatchObject({ id: 23, error: { code: -32602 } })
  })
})
