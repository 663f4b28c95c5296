import fc from "fast-check"
import { arbAuditCaller, arbSecretLike } from "@dtma/testing"
import { describe, expect, it } from "vitest"
import { auditMcpRequest, mcpRequestNameOf, outcomeOfJsonRpcError, type McpRequestAudit } from "../../src/server/auditMcpRequest.ts"

const base: McpRequestAudit = {
  time: 1_780_000_000_000,
  route: "/mcp-servers/:name/mcp",
  server: "memory",
  caller: null,
  request: null,
  outcome: "ok",
  durationMs: 3.5,
  requestBytes: 120,
  responseBytes: 480,
  sessionId: "sess-1",
  traceId: null,
}

const arbRequest = (secret: string) =>
  fc.oneof(
    fc.record({
      jsonrpc: fc.constant("2.0"),
      id: fc.nat(),
      method: fc.constant("tools/call"),
      params: fc.constant({ name: "search", arguments: { q: secret } }),
    }),
    fc.record({
      jsonrpc: fc.constant("2.0"),
      id: fc.nat(),
      method: fc.constant("prompts/get"),
      params: fc.constant({ name: "greet", arguments: { who: secret } }),
    }),
    fc.record({
      jsonrpc: fc.constant("2.0"),
      id: fc.nat(),
      method: fc.constant("resources/read"),
      params: fc.constant({ uri: `file:///notes?key=${secret}` }),
    }),
    fc.record({
      jsonrpc: fc.constant("2.0"),
      id: fc.nat(),
      method: fc.constant("completion/complete"),
      params: fc.constant({ ref: { type: "ref/prompt", name: "greet" }, argument: { name: "who", value: secret } }),
    }),
    fc.record({ jsonrpc: fc.constant("2.0"), id: fc.nat(), method: fc.constant("tools/list"), params: fc.constant({ cursor: secret }) }),
  )

describe("auditMcpRequest", () => {
  it("keeps a request's method and the name of what it asks for, never its arguments, a cursor or a URI's query", () => {
    fc.assert(
      fc.property(
        arbSecretLike.chain((secret) => fc.tuple(fc.constant(secret), arbRequest(secret))),
        arbAuditCaller,
        ([secret, request], caller) => {
          const record = auditMcpRequest({ ...base, request, caller })
          expect(record.method).toBe(request.method)
          expect(JSON.stringify(record)).not.toContain(secret)
        },
      ),
    )
  })

  it("records a refusal before any JSON-RPC request was read: no method, no name", () => {
    expect(auditMcpRequest({ ...base, request: "not json-rpc", outcome: "denied", errorCode: "invalid_token" })).toMatchObject({
      route: "/mcp-servers/:name/mcp",
      server: "memory",
      caller: { kind: "anonymous" },
      method: null,
      name: null,
      outcome: "denied",
      errorCode: "invalid_token",
      sessionId: "sess-1",
    })
  })

  it.each([
    ["tools/call", { name: "read_graph", arguments: {} }, "read_graph"],
    ["prompts/get", { name: "summarise" }, "summarise"],
    ["resources/read", { uri: "memo://notes/1" }, "memo://notes/1"],
    ["resources/subscribe", { uri: "memo://notes/2" }, "memo://notes/2"],
    ["resources/unsubscribe", { uri: "memo://notes/3" }, "memo://notes/3"],
    ["completion/complete", { ref: { type: "ref/resource", uri: "memo://{id}" } }, "memo://{id}"],
    ["tools/list", {}, null],
    ["tools/call", { name: 42 }, null],
    ["initialize", { clientInfo: { name: "x" } }, null],
  ])("names what %s asks for: %j → %j", (method, params, name) => {
    expect(mcpRequestNameOf(method, params)).toBe(name)
  })

  it.each([
    [-32001, "timeout"],
    [-32002, "rate_limited"],
    [-32601, "error"],
    [-32603, "error"],
  ] as const)("takes a JSON-RPC error %i as %s", (code, outcome) => {
    expect(outcomeOfJsonRpcError(code)).toBe(outcome)
  })
})
