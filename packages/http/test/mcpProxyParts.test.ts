import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { InstanceNotFound, McpServerBusy, McpServerUnavailable, type JsonRpcNotification, type JsonRpcResponse } from "@dtma/domain"
import { PendingAnswer } from "../src/mcpProxy/PendingAnswer.ts"
import { acceptedPost, loneRequest } from "../src/mcpProxy/postBody.ts"
import { negotiatedVersion } from "../src/mcpProxy/protocolVersion.ts"
import { PROXY_ERROR_TABLE, replyForFailure } from "../src/mcpProxy/proxyErrorTable.ts"
import { ResourceSubscriptions } from "../src/mcpProxy/ResourceSubscriptions.ts"

const uris = ["u1", "u2", "u3"]
const sessions = ["s1", "s2", "s3"]
type Op = { readonly kind: "add" | "remove"; readonly uri: string; readonly session: string } | { readonly kind: "drop"; readonly session: string }
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom("add" as const, "remove" as const), uri: fc.constantFrom(...uris), session: fc.constantFrom(...sessions) }),
  fc.record({ kind: fc.constant("drop" as const), session: fc.constantFrom(...sessions) }),
)

describe("resource subscriptions shared by client sessions", () => {
  it("keep the upstream subscribed to exactly the uris some session wants, whatever the order of events", () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 60 }), (ops) => {
        const subs = new ResourceSubscriptions()
        const model = new Set<string>()
        const upstream = new Set<string>()
        for (const op of ops) {
          if (op.kind === "add") {
            if (subs.add(op.uri, op.session)) upstream.add(op.uri)
            model.add(`${op.uri}|${op.session}`)
          } else if (op.kind === "remove") {
            if (subs.remove(op.uri, op.session)) upstream.delete(op.uri)
            model.delete(`${op.uri}|${op.session}`)
          } else {
            for (const uri of subs.dropSession(op.session)) upstream.delete(uri)
            for (const uri of uris) model.delete(`${uri}|${op.session}`)
          }
          for (const uri of uris) {
            const wanted = sessions.filter((s) => model.has(`${uri}|${s}`))
            expect([...subs.subscribers(uri)].sort()).toEqual(wanted)
            expect(upstream.has(uri)).toBe(wanted.length > 0)
          }
          expect([...subs.uris()].sort()).toEqual([...upstream].sort())
        }
      }),
    )
  })
})

describe("protocol version negotiation", () => {
  const supported = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
  it.each([
    ["2025-06-18", "2025-11-25", "2025-06-18"],
    ["2024-11-05", "2025-11-25", "2024-11-05"],
    ["2099-01-01", "2025-11-25", "2025-11-25"],
    [undefined, "2025-06-18", "2025-06-18"],
    [42, "2025-03-26", "2025-03-26"],
  ])("a client asking for %s of a server speaking %s gets %s", (asked, upstream, answered) => {
    expect(negotiatedVersion(asked, upstream, supported)).toBe(answered)
  })
})

describe("the proxy's refusals", () => {
  it("map each failure to one HTTP status and JSON-RPC code", () => {
    expect(PROXY_ERROR_TABLE).toEqual({
      InstanceNotFound: { status: 404, code: -32600, retryAfterS: null },
      McpServerUnavailable: { status: 503, code: -32000, retryAfterS: 1 },
      McpServerBusy: { status: 429, code: -32002, retryAfterS: 1 },
      SessionLimitReached: { status: 429, code: -32002, retryAfterS: 5 },
    })
  })

  it("carry one JSON-RPC error per request, under the request's own id", () => {
    const busy = new McpServerBusy({ name: "srv", inFlight: 288 })
    expect(replyForFailure(busy, [5])).toEqual({
      status: 429,
      headers: { "retry-after": "1" },
      body: { jsonrpc: "2.0", id: 5, error: { code: -32002, message: "MCP server 'srv' is saturated (288 requests in flight); retry later." } },
    })
    expect(replyForFailure(new McpServerUnavailable({ name: "srv", health: "restarting", detail: null }), ["a", "b"], true).body).toEqual([
      { jsonrpc: "2.0", id: "a", error: { code: -32000, message: "MCP server 'srv' is restarting and cannot take calls now." } },
      { jsonrpc: "2.0", id: "b", error: { code: -32000, message: "MCP server 'srv' is restarting and cannot take calls now." } },
    ])
    expect(replyForFailure(new InstanceNotFound({ name: "x" }), [])).toMatchObject({ status: 404, headers: {}, body: { id: null } })
  })
})

describe("a pending answer", () => {
  const progress = (n: number): JsonRpcNotification => ({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: n } })
  const response: JsonRpcResponse = { jsonrpc: "2.0", id: 1, result: {} }

  it("keeps what arrives before the transport knows the request and sends it in order once claimed, nothing after the answer", () => {
    let done = 0
    const answer = new PendingAnswer(1, () => void done++)
    const sent: Array<unknown> = []
    answer.progress(progress(1))
    answer.progress(progress(2))
    answer.answer(response)
    answer.progress(progress(3))
    expect(done).toBe(0)
    answer.claim((m) => void sent.push(m))
    expect(sent).toEqual([progress(1), progress(2), response])
    expect(done).toBe(1)
  })

  it("gives the final answer alone to a claim for it, or null when cancelled first", async () => {
    const answered = new PendingAnswer(1, () => undefined)
    const final = answered.final()
    answered.answer(response)
    expect(await final).toEqual(response)
    const cancelled = new PendingAnswer(2, () => undefined)
    const never = cancelled.final()
    cancelled.cancel()
    expect(await never).toBeNull()
  })

  it("sends nothing once cancelled and stops its work once", () => {
    let stopped = 0
    const answer = new PendingAnswer(1, () => undefined)
    answer.onCancel(() => void stopped++)
    const sent: Array<unknown> = []
    answer.claim((m) => void sent.push(m))
    answer.progress(progress(1))
    answer.cancel()
    answer.cancel()
    answer.answer(response)
    expect(sent).toEqual([progress(1)])
    expect(stopped).toBe(1)
  })
})

describe("the POSTs the SDK transport will accept", () => {
  const ok = { accept: "application/json, text/event-stream", "content-type": "application/json" }
  const request = { jsonrpc: "2.0", id: 1, method: "tools/list" }
  const kindOf = (read: ReturnType<typeof acceptedPost>) => (read === null ? "refused by the transport" : "invalid" in read ? read.invalid : "accepted")
  it.each([
    ["a request", ok, request, "accepted"],
    ["a batch", ok, [request, { jsonrpc: "2.0", method: "notifications/initialized" }], "accepted"],
    ["a client that does not accept SSE", { ...ok, accept: "application/json" }, request, "refused by the transport"],
    ["a body that is not JSON", { ...ok, "content-type": "text/plain" }, request, "refused by the transport"],
    ["a JSON-ish content type", { ...ok, "content-type": "application/jsonx" }, request, "refused by the transport"],
    ["an unsupported protocol version", { ...ok, "mcp-protocol-version": "1999-01-01" }, request, "refused by the transport"],
    ["an empty batch", ok, [], "Invalid Request: the batch is empty"],
    ["a batch of 101", ok, Array.from({ length: 101 }, () => request), "Invalid Request: a batch holds at most 100 messages"],
    ["something that is not JSON-RPC", ok, { hello: "world" }, 'Invalid Request: the message has no "jsonrpc": "2.0"'],
    ["a batch with a string in it", ok, [request, "x"], "Invalid Request: message 2 of the batch is not a JSON object"],
    ["a request with an object for an id", ok, { ...request, id: {} }, "Invalid Request: the message is not a JSON-RPC request, notification or response"],
  ])("recognises %s", (_, headers, body, kind) => {
    expect(kindOf(acceptedPost(headers, body))).toBe(kind)
  })
})

describe("the POSTs the DTMA answers with one JSON body instead of an event stream", () => {
  const ok = { accept: "application/json, text/event-stream", "content-type": "application/json" }
  const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } }
  it.each([
    ["a lone request", ok, call, true],
    ["a lone request with a charset", { ...ok, "content-type": "application/json; charset=utf-8" }, call, true],
    ["a request asking for progress", ok, { ...call, params: { ...call.params, _meta: { progressToken: 7 } } }, false],
    ["initialize", ok, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } }, false],
    ["a batch of one request", ok, [call], false],
    ["a notification", ok, { jsonrpc: "2.0", method: "notifications/initialized" }, false],
    ["a JSON-ish content type the transport refuses", { ...ok, "content-type": "application/jsonx" }, call, false],
  ])("%s: %s", (_, headers, body, alone) => {
    expect(loneRequest(acceptedPost(headers, body)) !== null).toBe(alone)
  })
})
