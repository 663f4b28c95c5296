import { describe, expect, it } from "vitest"
import type { JsonRpcResponse } from "@dtma/domain"
import { modernError, modernResponse, withoutEnvelope } from "../../src/mcpProxy/modernExchange.ts"

const call = {
  envelope: { protocolVersion: "2026-07-28", clientCapabilities: {}, logLevel: null },
  serverInfo: () => ({ name: "s", version: "1" }),
  listChanges: () => ({ tools: true, prompts: true, resources: true }),
}

describe("modernError", () => {
  it.each([
    ["a 2025-era server's resource not found", "resources/read", { code: -32002, message: "Resource not found" }, { code: -32602 }],
    ["the DTMA's busy on a call", "tools/call", { code: -32002, message: "busy" }, { code: -32603, data: { state: "busy" } }],
    ["the DTMA's busy on a read, said in data", "resources/read", { code: -32002, message: "busy", data: { server: "s", state: "busy" } }, { code: -32603 }],
    ["anything else", "tools/call", { code: -32602, message: "bad" }, { code: -32602, message: "bad" }],
  ])("answers %s in a code 2026-07-28 keeps", (_what, method, error, want) => {
    expect(modernError(method, error)).toMatchObject(want)
  })
})

describe("modernResponse", () => {
  it("marks a result complete and names the server, keeping its own _meta; caching hints only where the revision asks for them", () => {
    const list: JsonRpcResponse = { jsonrpc: "2.0", id: 1, result: { tools: [], _meta: { page: 1 } } }
    expect(modernResponse("tools/list", list, call)).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: {
        tools: [],
        resultType: "complete",
        ttlMs: 0,
        cacheScope: "private",
        _meta: { page: 1, "io.modelcontextprotocol/serverInfo": { name: "s", version: "1" } },
      },
    })
    const done = modernResponse("tools/call", { jsonrpc: "2.0", id: 2, result: { content: [] } }, call)
    expect(done).toEqual({
      jsonrpc: "2.0",
      id: 2,
      result: { content: [], resultType: "complete", _meta: { "io.modelcontextprotocol/serverInfo": { name: "s", version: "1" } } },
    })
  })
})

describe("withoutEnvelope", () => {
  it("takes the envelope's keys out of _meta and keeps the rest, dropping an emptied _meta", () => {
    const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, progressToken: 3 }
    expect(withoutEnvelope({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x", _meta: meta } })).toEqual({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "x", _meta: { progressToken: 3 } },
    })
    expect(
      withoutEnvelope({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } } }),
    ).toEqual({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/list",
      params: {},
    })
  })
})
