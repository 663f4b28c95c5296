import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { JsonRpcRequest } from "../../src/mcp/jsonrpc.ts"
import { dtmaEnvelope, hasEnvelope, legacyResponse, modernHello, withEnvelope } from "../../src/mcp/modernUpstream.ts"

const envelope = dtmaEnvelope({ name: "dtma", version: "1" })
const metaKey = fc.string().filter((k) => !k.startsWith("io.modelcontextprotocol/"))
const request = fc
  .record({ id: fc.nat(), method: fc.string(), meta: fc.option(fc.dictionary(metaKey, fc.jsonValue()), { nil: undefined }) })
  .map(({ id, method, meta }): JsonRpcRequest => ({ jsonrpc: "2.0", id, method, params: meta === undefined ? { a: 1 } : { a: 1, _meta: meta } }))

describe("the 2026-07-28 envelope on the way to a modern server", () => {
  it("adds the DTMA's envelope and keeps the params and the request's own _meta", () => {
    fc.assert(
      fc.property(request, (r) => {
        const sent = withEnvelope(r, envelope)
        expect(hasEnvelope(sent)).toBe(true)
        expect(sent.params).toEqual({ ...r.params, _meta: { ...envelope, ...(r.params?.["_meta"] as object) } })
        expect(withEnvelope(sent, envelope)).toBe(sent)
      }),
    )
  })

  it("leaves a client's own envelope as it is", () => {
    fc.assert(
      fc.property(request, (r) => {
        const own = withEnvelope(r, { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/logLevel": "debug" })
        expect(withEnvelope(own, envelope)).toBe(own)
      }),
    )
  })

  it("leaves a response as it is", () => {
    const response = { jsonrpc: "2.0" as const, id: 1, result: {} }
    expect(withEnvelope(response, envelope)).toBe(response)
  })
})

describe("a modern server's answers for 2025-era requesters", () => {
  it("drops only resultType and the caching hints of a complete result", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (fields) => {
        const result = { ...fields, resultType: "complete", ttlMs: 3, cacheScope: "public" }
        const { resultType: _r, ttlMs: _t, cacheScope: _c, ...kept } = result
        expect(legacyResponse("tools/list", { jsonrpc: "2.0", id: 1, result })).toEqual({ jsonrpc: "2.0", id: 1, result: kept })
      }),
    )
  })

  it("drops the server's name from _meta and keeps the rest", () => {
    const result = { content: [], _meta: { "io.modelcontextprotocol/serverInfo": { name: "m" }, progressToken: 1 } }
    expect(legacyResponse("tools/call", { jsonrpc: "2.0", id: 1, result })).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: { content: [], _meta: { progressToken: 1 } },
    })
    const only = { content: [], _meta: { "io.modelcontextprotocol/serverInfo": { name: "m" } } }
    expect(legacyResponse("tools/call", { jsonrpc: "2.0", id: 1, result: only })).toEqual({ jsonrpc: "2.0", id: 1, result: { content: [] } })
  })

  it("keeps an error as it is", () => {
    const error = { jsonrpc: "2.0" as const, id: 1, error: { code: -32602, message: "Tool nope not found" } }
    expect(legacyResponse("tools/call", error)).toBe(error)
  })

  it("takes a hello only from a discovery that lists 2026-07-28", () => {
    expect(modernHello({ supportedVersions: ["2025-11-25"] }, "2025-11-25")).toBeNull()
    expect(modernHello({ capabilities: {} }, "2025-11-25")).toBeNull()
    expect(modernHello({ supportedVersions: ["2026-07-28"] }, "2025-11-25")).toMatchObject({
      serverInfo: { name: "unknown", version: "unknown" },
      instructions: null,
    })
  })
})
