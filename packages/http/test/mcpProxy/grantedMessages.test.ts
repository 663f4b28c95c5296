/* oxlint-disable unicorn/prefer-add-event-listener -- the SDK's Transport has callback properties, not events */
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { completable } from "@modelcontextprotocol/sdk/server/completable.js"
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js"
import { SubscribeRequestSchema, UnsubscribeRequestSchema, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import { z } from "zod"
import { accessTo, patternMatches, type JsonRpcRequest, type JsonRpcResponse, type ServerAccess } from "@dtma/domain"
import { arbItemName, arbPattern } from "@dtma/testing"
import { mayReceive, ungrantedAnswer } from "../../src/mcpProxy/grantedMessages.ts"
import { EVERYTHING } from "../../src/mcpProxy/requestAccess.ts"

interface Patterns {
  readonly tools: ReadonlyArray<string>
  readonly prompts: ReadonlyArray<string>
  readonly resources: boolean
}

const arbPatterns = fc.record({
  tools: fc.uniqueArray(arbPattern, { maxLength: 4 }),
  prompts: fc.uniqueArray(arbPattern, { maxLength: 4 }),
  resources: fc.boolean(),
})
const accessOf = (p: Patterns): ServerAccess => accessTo([{ target: { server: "s" }, ...p }], { name: "s", accountToolInstanceId: null })!
const NOTHING = accessOf({ tools: [], prompts: [], resources: false })

/** Names `Object.prototype` holds: McpServer finds them in its plain-object registries. */
const arbInheritedName = fc.constantFrom("constructor", "toString", "valueOf", "__proto__", "hasOwnProperty")
const arbName = fc.oneof({ weight: 9, arbitrary: arbItemName }, { weight: 1, arbitrary: arbInheritedName })
const arbUri = fc.oneof(
  fc.webUrl(),
  arbItemName.map((n) => `test://${n}`),
  fc.constantFrom("not a url", "", "test://items/{id}"),
  arbInheritedName,
  fc.string({ maxLength: 12 }),
)
const argument = { name: "who", value: "" }

/** A request naming one tool, prompt, resource or template, and whether patterns allow it (the oracle, read off the patterns). */
const arbNaming = fc.oneof(
  arbName.map((name) => ({
    method: "tools/call",
    params: { name, arguments: {} },
    allowed: (p: Patterns) => p.tools.some((t) => patternMatches(t, name)),
  })),
  arbName.map((name) => ({ method: "prompts/get", params: { name }, allowed: (p: Patterns) => p.prompts.some((t) => patternMatches(t, name)) })),
  fc
    .tuple(fc.constantFrom("resources/read", "resources/subscribe", "resources/unsubscribe"), arbUri)
    .map(([method, uri]) => ({ method, params: { uri }, allowed: (p: Patterns) => p.resources })),
  arbName.map((name) => ({
    method: "completion/complete",
    params: { ref: { type: "ref/prompt", name }, argument },
    allowed: (p: Patterns) => p.prompts.some((t) => patternMatches(t, name)),
  })),
  arbUri.map((uri) => ({ method: "completion/complete", params: { ref: { type: "ref/resource", uri }, argument }, allowed: (p: Patterns) => p.resources })),
)

let id = 0
const requestOf = (r: { readonly method: string; readonly params: Readonly<Record<string, unknown>> }): JsonRpcRequest => ({
  jsonrpc: "2.0",
  id: ++id,
  method: r.method,
  params: r.params,
})

const FULL_CAPABILITIES = { tools: {}, prompts: {}, resources: { subscribe: true }, completions: {} }

/** A server built as server-everything and the DTMA's fixtures are: McpServer with one of everything, none of which the tests ask about. */
const richServer = (): McpServer => {
  const server = new McpServer({ name: "rich", version: "1" }, { capabilities: { resources: { subscribe: true } } })
  server.registerTool("zz-tool", { description: "t" }, () => ({ content: [] }))
  server.registerPrompt("zz-prompt", { argsSchema: { who: completable(z.string(), () => ["x"]) } }, () => ({ messages: [] }))
  server.registerResource("zz", "zz://only", {}, (uri) => ({ contents: [{ uri: uri.href, text: "" }] }))
  const template = new ResourceTemplate("zz://items/{id}", { list: undefined, complete: { id: () => ["1"] } })
  server.registerResource("zz-items", template, {}, (uri) => ({ contents: [{ uri: uri.href, text: "" }] }))
  server.server.setRequestHandler(SubscribeRequestSchema, () => ({}))
  server.server.setRequestHandler(UnsubscribeRequestSchema, () => ({}))
  return server
}

/** A raw JSON-RPC line to an in-process server: what it answers, and the capabilities it declared. */
const rawClient = async (server: McpServer) => {
  const [client, serverSide] = InMemoryTransport.createLinkedPair()
  await server.connect(serverSide)
  const waiting = new Map<unknown, (m: JsonRpcResponse) => void>()
  client.onmessage = (m) => {
    if ("id" in m) waiting.get(m.id)?.(m as JsonRpcResponse)
  }
  await client.start()
  const ask = (request: JsonRpcRequest): Promise<JsonRpcResponse> =>
    new Promise((resolve) => {
      waiting.set(request.id, resolve)
      void client.send(request as JSONRPCMessage)
    })
  const init = await ask({
    jsonrpc: "2.0",
    id: "init",
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  })
  await client.send({ jsonrpc: "2.0", method: "notifications/initialized" })
  const capabilities = ("result" in init ? init.result["capabilities"] : {}) as Readonly<Record<string, unknown>>
  return { ask, capabilities, close: () => client.close() }
}

describe("the answer to a request its access does not allow", () => {
  it("is none (the request goes to the server) exactly when the access allows what it names", () => {
    fc.assert(
      fc.property(arbPatterns, arbNaming, (patterns, naming) => {
        const answer = ungrantedAnswer(requestOf(naming), accessOf(patterns), FULL_CAPABILITIES)
        expect(answer === null).toBe(naming.allowed(patterns))
      }),
      { numRuns: 500 },
    )
  })

  it("lets through what only uses the server as a whole, and a task its sender started", () => {
    for (const method of ["initialize", "ping", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "logging/setLevel", "tasks/get"]) {
      expect([method, ungrantedAnswer(requestOf({ method, params: {} }), NOTHING, FULL_CAPABILITIES)]).toEqual([method, null])
    }
  })

  describe.each([
    ["an McpServer with one of everything", richServer],
    ["an McpServer with nothing", () => new McpServer({ name: "bare", version: "1" })],
  ])("is what %s answers for something it does not have", (_, make) => {
    let server: Awaited<ReturnType<typeof rawClient>>
    beforeAll(async () => {
      server = await rawClient(make())
    })
    afterAll(() => server.close())

    it("for every tool, prompt, resource and template named, and for methods MCP does not define", async () => {
      const arbUnknownMethod = fc.constantFrom("tasks/list", "x/unknown", "sampling/createMessage").map((method) => ({ method, params: {} }))
      await fc.assert(
        fc.asyncProperty(fc.oneof(arbNaming, arbUnknownMethod), async (naming) => {
          const request = requestOf(naming)
          expect(ungrantedAnswer(request, NOTHING, server.capabilities)).toEqual(await server.ask(request))
        }),
        { numRuns: 300 },
      )
    })
  })

  it("says plainly what a request naming nothing is missing, in an Invalid params error", () => {
    for (const [method, params] of [
      ["tools/call", {}],
      ["prompts/get", { name: 7 }],
      ["resources/read", {}],
      ["completion/complete", { ref: { type: "ref/other" } }],
    ] as const) {
      const answer = ungrantedAnswer(requestOf({ method, params }), accessOf({ tools: ["*"], prompts: ["*"], resources: true }), FULL_CAPABILITIES)
      expect(answer).toMatchObject({ error: { code: -32602, message: expect.stringMatching(new RegExp(`^Invalid params: ${method} takes `)) } })
    }
  })
})

describe("a server notification", () => {
  it("reaches a session unless it is a resource's update and the session's access has no resources", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("notifications/resources/updated", "notifications/message", "notifications/tools/list_changed", "notifications/resources/list_changed"),
        arbPatterns,
        (method, patterns) => {
          const notification = { jsonrpc: "2.0" as const, method, params: { uri: "test://a" } }
          expect(mayReceive(notification, accessOf(patterns))).toBe(method !== "notifications/resources/updated" || patterns.resources)
          expect(mayReceive(notification, EVERYTHING)).toBe(true)
        },
      ),
    )
  })
})
