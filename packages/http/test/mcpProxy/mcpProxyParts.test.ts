import { once } from "node:events"
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  InstanceNotFound,
  McpServerBusy,
  McpServerUnavailable,
  type AggregateCatalog,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from "@dtma/domain"
import { listAnswer } from "../../src/mcpProxy/agentAnswers.ts"
import { PostAnswer } from "../../src/mcpProxy/PostAnswer.ts"
import { jsonChunksOf } from "../../src/mcpProxy/serialisedAnswers.ts"
import { initializeResult, negotiatedVersion } from "../../src/mcpProxy/protocolVersion.ts"
import { PROXY_ERROR_TABLE, replyForFailure } from "../../src/mcpProxy/proxyErrorTable.ts"
import { ResourceSubscriptions } from "../../src/mcpProxy/ResourceSubscriptions.ts"
import { getHeadersProblem, postHeadersProblem, versionProblem } from "../../src/mcpProxy/streamableHttp.ts"
import { eventually } from "../support/mcpProxySupport.ts"

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

  it("gives a 2025-era client of a server that speaks only 2026-07-28 a 2025-era version, never 2026-07-28", () => {
    const result = { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "m", version: "1" } }
    const hello = { protocolVersion: "2026-07-28", capabilities: {}, serverInfo: { name: "m", version: "1" }, instructions: null, result }
    expect(initializeResult(hello, "2099-01-01", supported)).toMatchObject({ protocolVersion: "2025-11-25", serverInfo: { name: "m" } })
    expect(initializeResult(hello, "2025-06-18", supported)).toMatchObject({ protocolVersion: "2025-06-18" })
  })
})

describe("the proxy's refusals", () => {
  it("map each failure to one HTTP status and JSON-RPC code", () => {
    expect(PROXY_ERROR_TABLE).toEqual({
      InstanceNotFound: { status: 404, code: -32600, retryAfterS: null },
      McpServerUnavailable: { status: 503, code: -32000, retryAfterS: 1 },
      McpServerBusy: { status: 429, code: -32002, retryAfterS: 1 },
      SessionLimitReached: { status: 429, code: -32002, retryAfterS: 5 },
      IsolatedInstanceLimit: { status: 429, code: -32002, retryAfterS: 30 },
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

/** A server whose one request is answered by `answer` on its response; the test fetches it. */
const answering = async (answer: (res: ServerResponse) => void): Promise<{ readonly url: string; close(): Promise<void> }> => {
  const server = createServer((_, res) => answer(res))
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, "close")
    },
  }
}

describe("the answer to a POST", () => {
  const progress = (n: number): JsonRpcNotification => ({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: n } })
  const result = (id: number): JsonRpcResponse => ({ jsonrpc: "2.0", id, result: { n: id } })
  const event = (m: unknown) => `event: message\ndata: ${JSON.stringify(m)}\n\n`

  it("writes one JSON body once every request is settled, in the order posted, with its length, whatever order the answers came in", async () => {
    let answer: PostAnswer | undefined
    const server = await answering((res) => {
      answer = new PostAnswer({ res, sessionId: "s-1", batch: true, requests: 3 })
      for (let i = 0; i < 3; i++) answer.started()
      void answer.open(false)
      answer.settle(2, result(3))
    })
    const pending = fetch(server.url)
    await eventually(() => expect(answer).toBeDefined())
    expect(answer!.notify(progress(1))).toBe(false)
    answer!.settle(0, result(1))
    answer!.settle(0, result(9))
    answer!.settle(1, null)
    const res = await pending
    const text = await res.text()
    expect([res.status, res.headers.get("content-type"), res.headers.get("mcp-session-id"), Number(res.headers.get("content-length"))]).toEqual([
      200,
      "application/json",
      "s-1",
      text.length,
    ])
    expect(JSON.parse(text)).toEqual([result(1), result(3)])
    await server.close()
  })

  it("answers a single object when the POST was no batch, 202 and no body when its request was cancelled, 400 when it was refused as a repeat", async () => {
    for (const [settle, status, body] of [
      [(a: PostAnswer) => (a.started(), a.settle(0, result(1))), 200, JSON.stringify(result(1))],
      [(a: PostAnswer) => (a.started(), a.settle(0, null)), 202, ""],
      [
        (a: PostAnswer) => a.settle(0, { jsonrpc: "2.0", id: 1, error: { code: -32600, message: "repeat" } }),
        400,
        '{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"repeat"}}',
      ],
    ] as const) {
      const server = await answering((res) => {
        const answer = new PostAnswer({ res, sessionId: "s-1", batch: false, requests: 1 })
        settle(answer)
        void answer.open(false)
      })
      const res = await fetch(server.url)
      expect([res.status, await res.text()]).toEqual([status, body])
      await server.close()
    }
  })

  it("streams what settled before it opened, then each progress notification and answer as one event on arrival; closes after the last answer", async () => {
    let answer: PostAnswer | undefined
    const server = await answering((res) => {
      answer = new PostAnswer({ res, sessionId: "s-1", batch: true, requests: 2 })
      answer.started()
      answer.started()
      answer.settle(1, result(2))
      void answer.open(true)
    })
    const res = await fetch(server.url)
    expect([res.status, res.headers.get("content-type"), res.headers.get("mcp-session-id")]).toEqual([200, "text/event-stream", "s-1"])
    answer!.notify(progress(1))
    answer!.notify(progress(2))
    answer!.settle(0, result(1))
    answer!.notify(progress(3))
    expect(await res.text()).toBe([result(2), progress(1), progress(2), result(1)].map(event).join(""))
    await server.close()
  })
})

describe("the refusals of Streamable HTTP exchanges", () => {
  const ok = { accept: "application/json, text/event-stream", "content-type": "application/json" }
  const statusOf = (reply: { status: number } | null) => reply?.status ?? "accepted"
  it.each([
    ["a POST", ok, "accepted"],
    ["a POST with a charset", { ...ok, "content-type": "application/json; charset=utf-8" }, "accepted"],
    ["a client that does not accept SSE", { ...ok, accept: "application/json" }, 406],
    ["a client that does not accept JSON", { ...ok, accept: "text/event-stream" }, 406],
    ["a body that is not JSON", { ...ok, "content-type": "text/plain" }, 415],
    ["a JSON-ish content type", { ...ok, "content-type": "application/jsonx" }, 415],
    ["no content type", { accept: ok.accept }, 415],
  ])("check the headers of %s", (_, headers, status) => {
    expect(statusOf(postHeadersProblem(headers))).toBe(status)
  })

  it.each([
    ["no version", {}, "accepted"],
    ["a version the DTMA speaks", { "mcp-protocol-version": "2025-06-18" }, "accepted"],
    ["an unsupported version", { "mcp-protocol-version": "1999-01-01" }, 400],
  ])("check the protocol version header: %s", (_, headers, status) => {
    expect(statusOf(versionProblem(headers, ["2025-11-25", "2025-06-18"]))).toBe(status)
  })

  it.each([
    ["a client accepting an event stream", "text/event-stream", "accepted"],
    ["a client accepting JSON only", "application/json", 406],
  ])("check a GET from %s", (_, accept, status) => {
    expect(statusOf(getHeadersProblem({ accept }))).toBe(status)
  })
})

describe("the lists of /mcp, answered from memory", () => {
  const catalogOf = (tools: ReadonlyArray<Readonly<Record<string, unknown>>>): AggregateCatalog => ({
    tools,
    prompts: [],
    resources: [],
    resourceTemplates: [],
    instructions: null,
    toolRoutes: new Map(),
    promptRoutes: new Map(),
    resourceRoutes: new Map(),
    resourceServers: new Map(),
    collisions: [],
  })
  const list = (id: string | number, cursor?: string): JsonRpcRequest => ({
    jsonrpc: "2.0",
    id,
    method: "tools/list",
    ...(cursor === undefined ? {} : { params: { cursor } }),
  })
  /** The text PostAnswer writes for an answer. */
  const jsonOf = (answer: JsonRpcResponse) => Buffer.concat(jsonChunksOf(answer).map((c) => Buffer.from(c))).toString("utf8")
  /** A tool that counts how often it is serialised. */
  const counted = (name: string, count: { n: number }) => ({ name, toJSON: () => (count.n++, { name }) })

  it("serialise a page once for every request and session asking for it, each answer under its own id", async () => {
    const count = { n: 0 }
    const catalog = catalogOf([counted("a__one", count), counted("b__two", count)])
    const written: Array<string> = []
    for (const id of [1, "two", 3]) {
      const server = await answering((res) => {
        const answer = new PostAnswer({ res, sessionId: `s-${id}`, batch: false, requests: 1 })
        answer.started()
        answer.settle(0, listAnswer(list(id), catalog, 1000))
        void answer.open(false)
      })
      written.push(await (await fetch(server.url)).text())
      await server.close()
    }
    // Each of the two tools once, for the three answers.
    expect(count.n).toBe(2)
    expect(written.map((t) => JSON.parse(t))).toEqual(
      [1, "two", 3].map((id) => ({ jsonrpc: "2.0", id, result: { tools: [{ name: "a__one" }, { name: "b__two" }] } })),
    )
  })

  it("write a page in a batch and in an event stream as any answer, with the body's length in bytes", async () => {
    const catalog = catalogOf([{ name: "a__é", description: "ünïcode" }])
    const page = { jsonrpc: "2.0", id: 1, result: { tools: [{ name: "a__é", description: "ünïcode" }] } }
    const other: JsonRpcResponse = { jsonrpc: "2.0", id: 2, result: {} }
    for (const stream of [false, true]) {
      const server = await answering((res) => {
        const answer = new PostAnswer({ res, sessionId: "s-1", batch: true, requests: 2 })
        answer.started()
        answer.started()
        answer.settle(0, listAnswer(list(1), catalog, 1000))
        void answer.open(stream)
        answer.settle(1, other)
      })
      const res = await fetch(server.url)
      const bytes = Buffer.from(await res.arrayBuffer())
      if (stream) expect(bytes.toString("utf8")).toBe(`event: message\ndata: ${JSON.stringify(page)}\n\nevent: message\ndata: ${JSON.stringify(other)}\n\n`)
      else {
        expect(Number(res.headers.get("content-length"))).toBe(bytes.length)
        expect(JSON.parse(bytes.toString("utf8"))).toEqual([page, other])
      }
      await server.close()
    }
  })

  it("answer each page as the catalog lists it, whatever the items, the page size, the cursor and the id", () => {
    const json = fc.jsonValue({ maxDepth: 2 })
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 4 }), { maxLength: 12 }),
        fc.integer({ min: 1, max: 5 }),
        fc.nat({ max: 14 }),
        fc.oneof(fc.integer(), fc.string({ maxLength: 6 })),
        (tools, size, start, id) => {
          const catalog = catalogOf(tools)
          const cursor = start === 0 ? undefined : `p${start.toString(36)}`
          for (const asked of [id, `again-${id}`]) {
            const end = start + size
            const expected = {
              tools: JSON.parse(JSON.stringify(tools.slice(start, end))),
              ...(end < tools.length ? { nextCursor: `p${end.toString(36)}` } : {}),
            }
            const answer = listAnswer(list(asked, cursor), catalog, size)
            // What PostAnswer writes: the text it was given, the same as serialising the answer.
            expect(jsonOf(answer)).toBe(JSON.stringify(answer))
            expect(JSON.parse(jsonOf(answer))).toEqual({ jsonrpc: "2.0", id: asked, result: expected })
          }
        },
      ),
    )
  })

  it("keep at most 64 serialised pages of a catalog, whatever cursors clients make up", () => {
    const count = { n: 0 }
    const catalog = catalogOf(Array.from({ length: 100 }, (_, i) => counted(`t${i}`, count)))
    const ask = (i: number) => jsonOf(listAnswer(list(i, i === 0 ? undefined : `p${i.toString(36)}`), catalog, 1))
    for (let round = 0; round < 2; round++) for (let i = 0; i < 100; i++) ask(i)
    expect(count.n).toBe(100 + 36)
  })
})
