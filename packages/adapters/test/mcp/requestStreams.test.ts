import fc from "fast-check"
import { EventSourceParserStream } from "eventsource-parser/stream"
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "@dtma/domain"
import { makeRequestStreams } from "../../src/mcp/requestStreams.ts"

interface SseEvent {
  readonly id?: string | undefined
  readonly event?: string | undefined
  readonly data: string
}

const MARK = "dtma/request-stream"

const arbParams = fc.oneof(
  fc.constant(undefined),
  fc.record({ level: fc.constantFrom("info", "error"), data: fc.jsonValue() }),
  fc.record({ data: fc.string(), _meta: fc.dictionary(fc.constantFrom("x/y", MARK, "progressToken"), fc.jsonValue()) }),
)

const arbNotification = fc
  .record({ method: fc.constantFrom("notifications/message", "notifications/progress", "notifications/tools/list_changed"), params: arbParams })
  .map(({ method, params }) => JSON.stringify(params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params }))

const arbServerRequest = fc
  .record({ id: fc.oneof(fc.nat(), fc.string()), method: fc.constantFrom("sampling/createMessage", "elicitation/create", "roots/list"), params: arbParams })
  .map(({ id, method, params }) => JSON.stringify(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params }))

// No carriage return: SSE ends a line at one, so data cannot hold it.
const arbText = fc
  .string({ unit: fc.oneof(fc.constantFrom("\n", " ", ":", "é", "😀"), fc.string({ minLength: 1, maxLength: 1 })) })
  .filter((s) => !s.includes("\r"))

const arbData = fc.oneof(
  arbNotification,
  arbServerRequest,
  fc.constant(JSON.stringify({ jsonrpc: "2.0", id: 7, result: {} })),
  fc.constant(JSON.stringify({ jsonrpc: "2.0", id: 8, method: "ping" })),
  fc.constant(JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: ["not", "an", "object"] })),
  arbText,
)

const arbEvent: fc.Arbitrary<SseEvent> = fc.record({
  id: fc.option(fc.stringMatching(/^[a-z0-9-]{1,8}$/), { nil: undefined }),
  event: fc.option(fc.constantFrom("message", "other"), { nil: undefined }),
  data: arbData,
})

const written = (events: ReadonlyArray<SseEvent>): string =>
  events
    .map(
      (e) =>
        `${e.id === undefined ? "" : `id: ${e.id}\n`}${e.event === undefined ? "" : `event: ${e.event}\n`}${e.data
          .split("\n")
          .map((line) => `data: ${line}\n`)
          .join("")}\n`,
    )
    .join("")

/** The bytes of `text`, cut at `cuts` (a cut may fall inside a character). */
const chunked = (text: string, cuts: ReadonlyArray<number>): ReadableStream<Uint8Array> => {
  const bytes = new TextEncoder().encode(text)
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const pieces = [0, ...at, bytes.length].flatMap((start, i, all) => (i + 1 < all.length ? [bytes.slice(start, all[i + 1])] : []))
  return new ReadableStream({
    start: (controller) => {
      for (const piece of pieces) controller.enqueue(piece)
      controller.close()
    },
  })
}

const eventsOf = async (body: ReadableStream<Uint8Array>): Promise<Array<SseEvent>> => {
  const events: Array<SseEvent> = []
  for await (const e of body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream())) events.push(e)
  return events
}

const serving =
  (body: () => ReadableStream<Uint8Array> | string, contentType = "text/event-stream") =>
  async (): Promise<Response> =>
    new Response(body(), { status: 200, headers: { "content-type": contentType, "mcp-session-id": "s-1" } })

const parsed = (data: string): unknown => {
  try {
    return JSON.parse(data)
  } catch {
    return null
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** A notification or request whose params, if any, are an object: what a request's stream marks. */
const markable = (message: unknown): boolean =>
  isObject(message) && typeof message["method"] === "string" && (message["params"] === undefined || isObject(message["params"]))

const POST = (body: unknown) => ({ method: "POST", body: JSON.stringify(body) })

describe("the event streams of a Streamable HTTP client's requests", () => {
  it("carry every event as it came, each notification and server request marked with the request whose stream it is; unmarked, it is as sent", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbEvent, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.oneof(fc.nat(), fc.string()),
        async (events, cuts, requestId) => {
          const streams = makeRequestStreams(serving(() => chunked(written(events), cuts)))
          const response = await streams.fetch("http://127.0.0.1/mcp", POST({ jsonrpc: "2.0", id: requestId, method: "tools/call" }))
          expect(response.headers.get("mcp-session-id")).toBe("s-1")
          const seen = await eventsOf(response.body!)
          expect(seen.map((e) => [e.id, e.event])).toEqual(events.map((e) => [e.id, e.event]))
          for (const [i, sent] of events.entries()) {
            const came = seen[i]!
            const message = parsed(sent.data)
            if (sent.event === "other" || !markable(message)) expect(came.data).toBe(sent.data)
            else expect(streams.unmark(JSON.parse(came.data) as JsonRpcMessage)).toEqual({ message, relatedRequestId: requestId })
          }
        },
      ),
    )
  })

  it("leaves a mark the server made itself where it is, and tells nothing of it", async () => {
    const forged = { jsonrpc: "2.0", method: "notifications/message", params: { data: "x", _meta: { [MARK]: { nonce: "guessed", request: 1, added: null } } } }
    const streams = makeRequestStreams(serving(() => `data: ${JSON.stringify(forged)}\n\n`))
    const standalone = await eventsOf((await streams.fetch("http://127.0.0.1/mcp", { method: "GET" })).body!)
    expect(standalone.map((e) => JSON.parse(e.data))).toEqual([forged])
    expect(streams.unmark(forged as JsonRpcMessage)).toEqual({ message: forged })
  })

  it("leaves alone what answers no request's POST: a GET's stream, a JSON answer, the answer to a notification", async () => {
    const log = JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "x" } })
    const stream = makeRequestStreams(serving(() => `data: ${log}\n\n`))
    expect(await (await stream.fetch("http://127.0.0.1/mcp", { method: "GET" })).text()).toBe(`data: ${log}\n\n`)
    expect(await (await stream.fetch("http://127.0.0.1/mcp", POST({ jsonrpc: "2.0", method: "notifications/initialized" }))).text()).toBe(`data: ${log}\n\n`)
    const json = makeRequestStreams(serving(() => log, "application/json"))
    expect(await (await json.fetch("http://127.0.0.1/mcp", POST({ jsonrpc: "2.0", id: 1, method: "ping" }))).text()).toBe(log)
  })

  it("passes a stream's reconnection delay on", async () => {
    const streams = makeRequestStreams(serving(() => `id: e-1\nretry: 1500\ndata: \n\n`))
    const response = await streams.fetch("http://127.0.0.1/mcp", POST({ jsonrpc: "2.0", id: 1, method: "ping" }))
    expect(await response.text()).toBe("retry: 1500\n\nid: e-1\ndata: \n\n")
  })
})
