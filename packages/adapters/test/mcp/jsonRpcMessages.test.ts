import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "@dtma/domain"
import { deserializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js"
import { JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js"
import { parseMessageLine, toDomainMessage, toSdkMessage } from "../../src/mcp/jsonRpcMessages.ts"

const arbId = fc.oneof(fc.string({ maxLength: 8 }), fc.integer())
const arbParams = fc.option(
  fc.dictionary(
    fc.string({ maxLength: 5 }).filter((k) => k !== "_meta" && k !== "__proto__"),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 3 },
  ),
  { nil: undefined },
)
const arbMessage: fc.Arbitrary<JsonRpcMessage> = fc.oneof(
  fc.record(
    { jsonrpc: fc.constant("2.0" as const), id: arbId, method: fc.string({ maxLength: 10 }), params: arbParams },
    { requiredKeys: ["jsonrpc", "id", "method"] },
  ),
  fc.record({ jsonrpc: fc.constant("2.0" as const), method: fc.string({ maxLength: 10 }), params: arbParams }, { requiredKeys: ["jsonrpc", "method"] }),
  fc.record({
    jsonrpc: fc.constant("2.0" as const),
    id: arbId,
    result: fc.dictionary(
      fc.string({ maxLength: 5 }).filter((k) => k !== "__proto__"),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 3 },
    ),
  }),
  fc.record({
    jsonrpc: fc.constant("2.0" as const),
    id: fc.option(arbId, { nil: null }),
    error: fc.record({ code: fc.integer(), message: fc.string({ maxLength: 10 }) }),
  }),
)

describe("messages between the domain and the SDK", () => {
  it("survive the trip to the SDK, over the wire and back unchanged", () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const back = toDomainMessage(parseMessageLine(JSON.stringify(toSdkMessage(m))))
        expect(back).toEqual(JSON.parse(JSON.stringify(m)))
      }),
    )
  })

  it("refuses a line that is not a JSON-RPC message", () => {
    expect(() => parseMessageLine("{")).toThrow(SyntaxError)
    expect(() => parseMessageLine('{"jsonrpc":"2.0","id":1}')).toThrow(/invalid/i)
    expect(() => parseMessageLine('{"jsonrpc":"2.0","id":null,"result":{}}')).toThrow(/invalid/i)
  })

  it("reads every line as the SDK's deserializeMessage does, or refuses it alike (the null-id error answer apart)", () => {
    // The parser before it read each line twice when it did not fit: the SDK's parse (JSON, then its schema), then JSON again.
    const reference = (line: string) => {
      try {
        return deserializeMessage(line)
      } catch (error) {
        const value: unknown = JSON.parse(line)
        if (typeof value !== "object" || value === null || !("error" in value) || !("id" in value) || value.id !== null) throw error
        const { id: _null, ...rest } = value
        return JSONRPCMessageSchema.parse(rest)
      }
    }
    const outcome = (read: () => unknown) => {
      try {
        return { value: read() }
      } catch (error) {
        return { thrown: error instanceof SyntaxError ? "SyntaxError" : "refused" }
      }
    }
    const key = fc.constantFrom("jsonrpc", "id", "result", "error", "method", "params", "_meta", "__proto__", "x")
    const anyId = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.double(), fc.constant(2 ** 53), fc.constant(null), fc.boolean())
    const result = fc.oneof(
      fc.dictionary(fc.oneof(key, fc.string({ maxLength: 4 })), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
      fc.jsonValue({ maxDepth: 1 }),
      fc.record({ _meta: fc.jsonValue({ maxDepth: 1 }) }),
    )
    const answer = fc.record(
      { jsonrpc: fc.constantFrom("2.0", "1.0", 2), id: anyId, result, extra: fc.jsonValue({ maxDepth: 1 }) },
      { requiredKeys: ["jsonrpc", "id", "result"] },
    )
    const text = fc.oneof(
      answer.map((a) => JSON.stringify(a)),
      answer.map((a) => JSON.stringify(a).replace('"extra"', '"__proto__"')),
      answer.map((a) => JSON.stringify(a).replace('"result":{', '"result":{"__proto__":1,')),
      arbMessage.map((m) => JSON.stringify(m)),
      fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map((o) => JSON.stringify(o)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 20 }),
    )
    fc.assert(
      fc.property(text, (line) => {
        expect(outcome(() => parseMessageLine(line))).toStrictEqual(outcome(() => reference(line)))
      }),
      { numRuns: 2000 },
    )
  })
})
