import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { JsonRpcIdRewriter } from "../../src/mcp/JsonRpcIdRewriter.ts"
import type { JsonRpcId, JsonRpcNotification, JsonRpcResponse } from "../../src/mcp/jsonrpc.ts"

interface Sent {
  readonly sessionId: string
  readonly clientId: JsonRpcId
  readonly token: string | number | null
  readonly upstreamId: number
  readonly upstreamToken: unknown
}

// Clients pick ids and tokens independently, so they collide across sessions on purpose.
const arbRequest = fc.record({
  sessionId: fc.constantFrom("s1", "s2", "s3"),
  clientId: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom("a", "b")),
  token: fc.option(fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constant("t")), { nil: null }),
})

describe("JsonRpcIdRewriter", () => {
  it("routes every answer and progress, in any order, to the session and id that asked", () => {
    fc.assert(
      fc.property(fc.array(arbRequest, { maxLength: 40 }), fc.infiniteStream(fc.nat()), (requests, picks) => {
        const router = new JsonRpcIdRewriter()
        const responses: Array<{ to: string; response: JsonRpcResponse }> = []
        const progress: Array<{ to: string; notification: JsonRpcNotification }> = []
        const sent: Array<Sent> = requests.map(({ sessionId, clientId, token }) => {
          const params = token === null ? { q: 1 } : { q: 1, _meta: { progressToken: token } }
          const upstream = router.outbound(
            sessionId,
            { jsonrpc: "2.0", id: clientId, method: "tools/call", params },
            {
              onResponse: (response) => responses.push({ to: sessionId, response }),
              onProgress: (notification) => progress.push({ to: sessionId, notification }),
            },
          )
          const upstreamToken = (upstream.params?.["_meta"] as { progressToken?: unknown } | undefined)?.progressToken
          return { sessionId, clientId, token, upstreamId: upstream.id as number, upstreamToken }
        })
        expect(new Set(sent.map((s) => s.upstreamId)).size).toBe(sent.length)
        const remaining = [...sent]
        const order = picks[Symbol.iterator]()
        while (remaining.length > 0) {
          const [s] = remaining.splice(order.next().value % remaining.length, 1)
          if (s === undefined) break
          if (s.token !== null) {
            expect(
              router.progress({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: s.upstreamToken as string, progress: 1 } }),
            ).toBe(true)
            expect(progress.at(-1)).toEqual({
              to: s.sessionId,
              notification: { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: s.token, progress: 1 } },
            })
          }
          expect(router.inbound({ jsonrpc: "2.0", id: s.upstreamId, result: { for: s.upstreamId } })).toBe(true)
          expect(responses.at(-1)).toEqual({ to: s.sessionId, response: { jsonrpc: "2.0", id: s.clientId, result: { for: s.upstreamId } } })
        }
        expect(router.size).toBe(0)
      }),
    )
  })

  it("forgets an abandoned request and tells upstream which one to cancel", () => {
    const router = new JsonRpcIdRewriter()
    const answered: Array<unknown> = []
    const upstream = router.outbound("s1", { jsonrpc: "2.0", id: 7, method: "tools/call" }, { onResponse: (r) => answered.push(r) })
    expect(router.abandon(upstream.id as number, "timed out")).toEqual({
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: upstream.id, reason: "timed out" },
    })
    expect(router.inbound({ jsonrpc: "2.0", id: upstream.id, result: {} })).toBe(false)
    expect(router.abandon(upstream.id as number, "again")).toBeNull()
    expect(answered).toEqual([])
  })

  it("answers every pending request with the error when the connection fails", () => {
    const router = new JsonRpcIdRewriter()
    const answered: Array<JsonRpcResponse> = []
    router.outbound("s1", { jsonrpc: "2.0", id: "x", method: "a" }, { onResponse: (r) => answered.push(r) })
    router.outbound("s2", { jsonrpc: "2.0", id: 1, method: "b" }, { onResponse: (r) => answered.push(r) })
    router.failAll({ code: -32000, message: "Connection closed" })
    expect(answered).toEqual([
      { jsonrpc: "2.0", id: "x", error: { code: -32000, message: "Connection closed" } },
      { jsonrpc: "2.0", id: 1, error: { code: -32000, message: "Connection closed" } },
    ])
    expect(router.size).toBe(0)
  })

  it("ignores answers and progress nobody asked for", () => {
    const router = new JsonRpcIdRewriter()
    expect(router.inbound({ jsonrpc: "2.0", id: 99, result: {} })).toBe(false)
    expect(router.inbound({ jsonrpc: "2.0", id: "not-ours", result: {} })).toBe(false)
    expect(router.progress({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "dtma-5", progress: 1 } })).toBe(false)
  })

  it("never takes a late answer to the previous connection's request for one of the next connection's", () => {
    const before = new JsonRpcIdRewriter()
    const stale = before.outbound("s1", { jsonrpc: "2.0", id: 7, method: "tools/call" }, { onResponse: () => undefined })
    const after = new JsonRpcIdRewriter()
    const answered: Array<unknown> = []
    const fresh = after.outbound("s1", { jsonrpc: "2.0", id: 7, method: "tools/call" }, { onResponse: (r) => answered.push(r) })
    expect(fresh.id).not.toBe(stale.id)
    expect(after.inbound({ jsonrpc: "2.0", id: stale.id, result: { late: true } })).toBe(false)
    expect(answered).toEqual([])
  })
})
