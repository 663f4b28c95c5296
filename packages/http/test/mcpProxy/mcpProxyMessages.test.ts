import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { isJsonRpcMessage } from "@dtma/domain"
import { JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js"
import { MAX_BATCH, readPosted } from "../../src/mcpProxy/postedMessages.ts"

// Valid messages of each kind, then one member set to a value near an edge, or dropped.
const goodId = fc.oneof(fc.string({ maxLength: 4 }), fc.integer())
const badId = fc.constantFrom(1.5, 2 ** 60, null, true, {}, [])
const meta = fc.record(
  {
    progressToken: fc.oneof(goodId, goodId, badId),
    "io.modelcontextprotocol/related-task": fc.oneof(fc.record({ taskId: fc.string() }), fc.constantFrom("t", { taskId: 1 })),
    other: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: [] },
)
const holder = fc.record({ _meta: fc.oneof(meta, meta, fc.constantFrom(null, "m", [])), x: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] })
const errorObject = fc.record({ code: fc.integer(), message: fc.string(), data: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: ["code", "message"] })
const valid = fc.oneof(
  fc.record({ jsonrpc: fc.constant("2.0"), id: goodId, method: fc.string({ maxLength: 8 }), params: holder }, { requiredKeys: ["jsonrpc", "id", "method"] }),
  fc.record({ jsonrpc: fc.constant("2.0"), method: fc.string({ maxLength: 8 }), params: holder }, { requiredKeys: ["jsonrpc", "method"] }),
  fc.record({ jsonrpc: fc.constant("2.0"), id: goodId, result: holder }),
  fc.record({ jsonrpc: fc.constant("2.0"), id: goodId, error: errorObject }, { requiredKeys: ["jsonrpc", "error"] }),
)
const edge = fc.oneof(
  goodId,
  badId,
  holder,
  errorObject,
  fc.constantFrom("2.0", "1.0", 2, "tools/call", 7, { code: 1.5, message: "m" }, { code: 1 }, null, [], "x"),
  fc.jsonValue({ maxDepth: 1 }),
)
const arbCandidate = fc
  .tuple(valid, fc.option(fc.tuple(fc.constantFrom("jsonrpc", "id", "method", "params", "result", "error", "extra"), fc.option(edge, { nil: undefined }))))
  .map(([message, change]) => {
    if (change === null) return message
    const [key, value] = change
    const { [key]: _, ...rest } = message as Record<string, unknown>
    return value === undefined ? rest : { ...rest, [key]: value }
  })

describe("the JSON-RPC message check", () => {
  it("accepts exactly what the MCP SDK's message schema accepts", () => {
    fc.assert(
      fc.property(fc.oneof({ arbitrary: arbCandidate, weight: 9 }, { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 }), (value) => {
        expect(isJsonRpcMessage(value)).toBe(JSONRPCMessageSchema.safeParse(value).success)
      }),
      { numRuns: 5_000 },
    )
  })
})

describe("the messages of a POST", () => {
  const request = { jsonrpc: "2.0", id: 1, method: "tools/list" }
  const problemOf = (body: unknown) => {
    const read = readPosted(body)
    return "invalid" in read ? read.invalid : read.batch ? "a batch" : "one message"
  }
  it.each([
    ["a request", request, "one message"],
    ["a batch", [request, { jsonrpc: "2.0", method: "notifications/initialized" }], "a batch"],
    ["a batch of 100", Array.from({ length: MAX_BATCH }, () => request), "a batch"],
    ["an empty batch", [], "Invalid Request: the batch is empty"],
    ["a batch of 101", Array.from({ length: MAX_BATCH + 1 }, () => request), "Invalid Request: a batch holds at most 100 messages"],
    ["something that is not JSON-RPC", { hello: "world" }, 'Invalid Request: the message has no "jsonrpc": "2.0"'],
    ["a batch with a string in it", [request, "x"], "Invalid Request: message 2 of the batch is not a JSON object"],
    ["a request with an object for an id", { ...request, id: {} }, "Invalid Request: the message is not a JSON-RPC request, notification or response"],
    [
      "a request with a member JSON-RPC does not have",
      { ...request, extra: 1 },
      "Invalid Request: the message is not a JSON-RPC request, notification or response",
    ],
    [
      "a progress token that is an object",
      { ...request, params: { _meta: { progressToken: {} } } },
      "Invalid Request: the message is not a JSON-RPC request, notification or response",
    ],
  ])("reads %s", (_, body, problem) => {
    expect(problemOf(body)).toBe(problem)
  })

  it("keeps the parsed messages themselves, in order, without copying them", () => {
    const batch = [request, { jsonrpc: "2.0", method: "notifications/initialized" }]
    const read = readPosted(batch)
    expect("messages" in read && read.messages).toBe(batch)
    const single = readPosted(request)
    expect("messages" in single && single.messages[0]).toBe(request)
  })
})
