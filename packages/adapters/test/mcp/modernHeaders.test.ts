import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encodeHeaderValue, modernHeaders, modernMessageOf } from "../../src/mcp/modernHeaders.ts"

const PV = "io.modelcontextprotocol/protocolVersion"
const decode = (value: string) => {
  const m = /^=\?base64\?(.*)\?=$/s.exec(value)
  return m === null ? value : Buffer.from(m[1]!, "base64").toString("utf8")
}

describe("the headers of a 2026-07-28 POST", () => {
  it("carries any name so that decoding gives it back, and a plain name as it is", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (name) => {
        expect(decode(encodeHeaderValue(name))).toBe(name)
      }),
    )
    expect(encodeHeaderValue("get_weather")).toBe("get_weather")
    expect(encodeHeaderValue(" padded")).toMatch(/^=\?base64\?/)
    expect(encodeHeaderValue("=?base64?abc?=")).toBe(`=?base64?${Buffer.from("=?base64?abc?=").toString("base64")}?=`)
  })

  it("reads the version, method and name of an enveloped message, and nothing of any other body", () => {
    const body = (params: unknown) => JSON.stringify({ jsonrpc: "2.0", id: 1, method: "resources/read", params })
    expect(modernMessageOf(body({ uri: "file:///a", _meta: { [PV]: "2026-07-28" } }))).toEqual({
      version: "2026-07-28",
      method: "resources/read",
      name: "file:///a",
    })
    expect(modernMessageOf(body({ uri: "file:///a" }))).toBeNull()
    expect(modernMessageOf("[1,2]")).toBeNull()
    expect(modernMessageOf("not json")).toBeNull()
  })

  it("hands on a 4xx JSON-RPC error answer as an answer, and leaves a legacy POST and its refusal untouched", async () => {
    const seen: Array<Headers> = []
    const refusing = modernHeaders(async (_url, init) => {
      seen.push(new Headers(init?.headers))
      return new Response(JSON.stringify({ jsonrpc: "2.0", id: 1, error: { code: -32601, message: "Method not found" } }), {
        status: 404,
        headers: { "content-type": "application/json" },
      })
    })
    const modern = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "x/y", params: { _meta: { [PV]: "2026-07-28" } } })
    const answered = await refusing("http://s/mcp", { method: "POST", body: modern, headers: { "mcp-session-id": "s1" } })
    expect(answered.status).toBe(200)
    expect(await answered.json()).toMatchObject({ error: { code: -32601 } })
    expect(Object.fromEntries(seen[0]!)).toEqual({ "mcp-protocol-version": "2026-07-28", "mcp-method": "x/y" })
    const legacy = await refusing("http://s/mcp", {
      method: "POST",
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "x/y" }),
      headers: { "mcp-session-id": "s1" },
    })
    expect(legacy.status).toBe(404)
    expect(Object.fromEntries(seen[1]!)).toEqual({ "mcp-session-id": "s1" })
  })
})
