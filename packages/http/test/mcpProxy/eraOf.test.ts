import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { JsonRpcMessage } from "@dtma/domain"
import { decodeHeaderValue, eraOf, type Era } from "../../src/mcpProxy/eraOf.ts"
import { arbCase, encoded, expected, headersOf, METHODS, MODERN, requestOf, type Case } from "../support/modernHeaders.ts"

// The rule is the v2 SDK's (`classifyInboundRequest` and `validateStandardRequestHeaders` in
// @modelcontextprotocol/core, `isLegacyRequest` in @modelcontextprotocol/server): body first, the
// headers checked against it; the cases below are MCP 2026-07-28's "Server Validation" table.

const VERSIONS = { modern: ["2026-07-28"], legacy: ["2025-11-25", "2025-06-18"] }
const refusalOf = (era: Era) => {
  if (era.era !== "refused") return era.era
  const body = era.reply.body as { error: { code: number } }
  return { status: era.reply.status, code: body.error.code }
}

describe("eraOf", () => {
  it("serves every modern request whose headers match its body, and refuses every other with the status and code the 2026-07-28 revision specifies", () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        const claimed = c.supported ? MODERN : "2027-01-01"
        const message = requestOf(c, claimed)
        const era = eraOf({ httpMethod: "POST", headers: headersOf(c, claimed), body: message }, VERSIONS)
        const want = expected(c)
        if (want === "modern") {
          expect(era).toEqual({ era: "modern", message, envelope: { protocolVersion: MODERN, clientCapabilities: {}, logLevel: c.logLevel } })
        } else {
          expect(refusalOf(era)).toEqual(want)
          expect(era.era === "refused" && (era.reply.body as { id: unknown }).id).toBe(1)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it("names the supported versions and the one requested when it refuses a revision", () => {
    const c: Case = {
      method: "tools/list",
      name: "x",
      supported: false,
      envelope: "ok",
      version: "keep",
      mcpMethod: "keep",
      mcpName: "plain",
      logLevel: null,
      extra: {},
    }
    const era = eraOf({ httpMethod: "POST", headers: headersOf(c, "2027-01-01"), body: requestOf(c, "2027-01-01") }, VERSIONS)
    expect(era).toMatchObject({
      era: "refused",
      reply: { status: 400, body: { error: { code: -32022, data: { supported: ["2026-07-28", "2025-11-25", "2025-06-18"], requested: "2027-01-01" } } } },
    })
  })

  it("leaves every request without an envelope and without a modern version header to the 2025-era rules, whatever else it carries", () => {
    const arbLegacy = fc.record({
      method: fc.constantFrom(...METHODS, "initialize", "ping", "resources/subscribe"),
      version: fc.constantFrom(undefined, "2025-11-25", "2025-06-18", "1999-01-01", "garbage"),
      session: fc.option(fc.uuid(), { nil: undefined }),
      meta: fc.option(fc.dictionary(fc.constantFrom("progressToken", "traceparent", "io.modelcontextprotocol/logLevel"), fc.string()), { nil: undefined }),
    })
    fc.assert(
      fc.property(arbLegacy, ({ method, version, session, meta }) => {
        const headers = {
          ...(version === undefined ? {} : { "mcp-protocol-version": version }),
          ...(session === undefined ? {} : { "mcp-session-id": session }),
        }
        const body: JsonRpcMessage = { jsonrpc: "2.0", id: 2, method, params: meta === undefined ? {} : { _meta: meta } }
        expect(eraOf({ httpMethod: "POST", headers, body }, VERSIONS)).toEqual({ era: "legacy" })
        expect(eraOf({ httpMethod: "POST", headers, body: [body, body] }, VERSIONS)).toEqual({ era: "legacy" })
        expect(eraOf({ httpMethod: "GET", headers }, VERSIONS)).toEqual({ era: "legacy" })
        expect(eraOf({ httpMethod: "DELETE", headers }, VERSIONS)).toEqual({ era: "legacy" })
        const response: JsonRpcMessage = { jsonrpc: "2.0", id: "dtma-1", result: {} }
        expect(eraOf({ httpMethod: "POST", headers, body: response }, VERSIONS)).toEqual({ era: "legacy" })
      }),
    )
  })

  it("answers a GET or DELETE naming a modern version 405, with or without a session id", () => {
    for (const httpMethod of ["GET", "DELETE"])
      for (const session of [{}, { "mcp-session-id": "s" }]) {
        const era = eraOf({ httpMethod, headers: { "mcp-protocol-version": MODERN, ...session } }, VERSIONS)
        expect(era).toMatchObject({ era: "refused", reply: { status: 405, headers: { allow: "POST" }, body: { error: { code: -32000 } } } })
      }
  })

  it("refuses a modern-version request with no envelope (-32602), an initialize naming a modern version (-32020), a batch of modern ones (-32600)", () => {
    const headers = { "mcp-protocol-version": MODERN, "mcp-method": "tools/list" }
    const bare: JsonRpcMessage = { jsonrpc: "2.0", id: 3, method: "tools/list", params: {} }
    expect(refusalOf(eraOf({ httpMethod: "POST", headers, body: bare }, VERSIONS))).toEqual({ status: 400, code: -32602 })
    const init: JsonRpcMessage = {
      jsonrpc: "2.0",
      id: 4,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } },
    }
    expect(refusalOf(eraOf({ httpMethod: "POST", headers, body: init }, VERSIONS))).toEqual({ status: 400, code: -32020 })
    const modern = { ...bare, params: { _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} } } }
    expect(refusalOf(eraOf({ httpMethod: "POST", headers: {}, body: [bare, modern] }, VERSIONS))).toEqual({ status: 400, code: -32600 })
  })

  it("takes a notification naming a modern version as modern, with no header required", () => {
    const note: JsonRpcMessage = { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1 } }
    expect(eraOf({ httpMethod: "POST", headers: { "mcp-protocol-version": MODERN }, body: note }, VERSIONS)).toEqual({
      era: "modern",
      message: note,
      envelope: null,
    })
  })

  it("decodes the base64 sentinel of a header value back to the value, and refuses one that is not base64 of UTF-8", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (value) => {
        expect(decodeHeaderValue(encoded(value, true))).toBe(value)
      }),
    )
    expect(decodeHeaderValue("plain")).toBe("plain")
    expect(decodeHeaderValue("=?base64?//79?=")).toBeNull()
    expect(decodeHeaderValue("=?base64?abc?=")).toBeNull()
  })
})
