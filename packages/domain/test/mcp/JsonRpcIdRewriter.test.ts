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

/** What happens on one connection, in any order: requests go out, are answered, abandoned, answered late; log messages come. */
type Step =
  | { readonly kind: "send"; readonly listens: boolean; readonly quiet: "ping" | "subscriptions/listen" | null }
  | { readonly kind: "answer" | "abandon" | "late-answer"; readonly pick: number }
  | { readonly kind: "log"; readonly related: number | null; readonly pick: number }

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  // A `ping` (the DTMA checking the server, answered at once) and a `subscriptions/listen` (a 2026-07-28 server's stream, on
  // which no log message comes) make the server log or ask nothing: they never stand in the way.
  fc.record({
    kind: fc.constant("send" as const),
    listens: fc.boolean(),
    quiet: fc.constantFrom<"ping" | "subscriptions/listen" | null>(null, null, "ping", "subscriptions/listen"),
  }),
  fc.record({ kind: fc.constantFrom("answer" as const, "abandon" as const, "late-answer" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("log" as const), related: fc.option(fc.nat(), { nil: null }), pick: fc.nat() }),
)

const LOG: JsonRpcNotification = { jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "x" } }

describe("JsonRpcIdRewriter attributing a server's log messages", () => {
  it.each([true, false])("gives each to the request it was sent about, and only when that is certain (transport separates requests: %s)", (separated) => {
    fc.assert(
      fc.property(fc.array(arbStep, { maxLength: 60 }), (steps) => {
        const router = new JsonRpcIdRewriter()
        // The model: requests pending (upstream id → listens), and abandoned ones the server never answered; pings and listens apart.
        const pending = new Map<number, boolean>()
        const unfinished = new Set<number>()
        const pings = new Set<number>()
        const got: Array<number> = []
        const pickOf = <A>(items: ReadonlyArray<A>, pick: number): A | undefined => items[pick % Math.max(items.length, 1)]
        for (const step of steps) {
          if (step.kind === "send") {
            const waiter = { onResponse: () => undefined, ...(step.listens ? { onLogMessage: () => void got.push(upstream.id as number) } : {}) }
            const upstream = router.outbound("s", { jsonrpc: "2.0", id: 1, method: step.quiet ?? "tools/call" }, waiter)
            pending.set(upstream.id as number, step.listens)
            if (step.quiet !== null) pings.add(upstream.id as number)
          } else if (step.kind === "answer" || step.kind === "abandon") {
            const id = pickOf([...pending.keys()], step.pick)
            if (id === undefined) continue
            pending.delete(id)
            if (step.kind === "answer") router.inbound({ jsonrpc: "2.0", id, result: {} })
            else {
              router.abandon(id, "cancelled")
              if (!pings.has(id)) unfinished.add(id)
            }
          } else if (step.kind === "late-answer") {
            const id = pickOf([...unfinished], step.pick)
            if (id === undefined) continue
            unfinished.delete(id)
            expect(router.inbound({ jsonrpc: "2.0", id, result: {} })).toBe(false)
          } else if (step.kind === "log") {
            // A related id names a pending request, or one the router never knew or no longer waits for.
            const named = step.related === null ? undefined : (pickOf([...pending.keys(), ...unfinished, -1], step.related) ?? -1)
            const calls = [...pending.keys()].filter((id) => !pings.has(id))
            const sole = calls.length === 1 && unfinished.size === 0 ? calls[0] : undefined
            const owner = separated ? named : sole
            const expected = owner !== undefined && pending.get(owner) === true ? owner : null
            const before = got.length
            expect(router.logMessage(LOG, { separated, relatedId: named })).toBe(expected !== null)
            expect(got.slice(before)).toEqual(expected === null ? [] : [expected])
          }
        }
      }),
    )
  })

  it("takes no log message for the only request in flight once more requests were abandoned unanswered than it remembers", () => {
    const router = new JsonRpcIdRewriter()
    const abandoned = Array.from({ length: 1_025 }, (_, i) => {
      const upstream = router.outbound("s", { jsonrpc: "2.0", id: i, method: "tools/call" }, { onResponse: () => undefined })
      router.abandon(upstream.id as number, "cancelled")
      return upstream.id as number
    })
    // The server answers all but the last late: that one may still be running.
    for (const id of abandoned.slice(0, -1)) router.inbound({ jsonrpc: "2.0", id, result: {} })
    const got: Array<JsonRpcNotification> = []
    router.outbound("s", { jsonrpc: "2.0", id: "y", method: "tools/call" }, { onResponse: () => undefined, onLogMessage: (n) => void got.push(n) })
    expect(router.logMessage(LOG, { separated: false })).toBe(false)
    expect(got).toEqual([])
  })
})
