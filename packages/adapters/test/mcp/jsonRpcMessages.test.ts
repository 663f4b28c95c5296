import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "@dtma/domain"
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
})
