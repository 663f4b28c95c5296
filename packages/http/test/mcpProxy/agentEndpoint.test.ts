import { Effect } from "effect"
import { McpError } from "@modelcontextprotocol/sdk/types.js"
import { afterEach, describe, expect, it } from "vitest"
import type { Grants } from "@dtma/domain"
import { InMemoryAuditLog } from "@dtma/testing"
import { namesOf, startAgentApp, TOOLS_OF_FIXTURE, TOOLS_OF_TOOLS, type AgentApp } from "../support/agentEndpointSupport.ts"
import { ask, listen, openSession, postIn, readStream } from "../support/grantsSupport.ts"
import { eventually } from "../support/mcpProxySupport.ts"
import { auditRecords, TOKEN } from "../support/support.ts"

let app: AgentApp
afterEach(() => app.close())

/** Parts of two servers: two tools by name and a prefix and one prompt of `fixture` (no resources), everything on `tools`. */
const PARTS_OF_TWO: Grants = [
  { target: { server: "fixture" }, tools: ["echo", "search_*"], prompts: ["greet"], resources: false },
  { target: { server: "tools" }, tools: ["*"], prompts: ["*"], resources: true },
]
const ECHO_OF_TWIN: Grants = [{ target: { server: "twin" }, tools: ["echo"], prompts: [], resources: false }]

const prefixed = (server: string, names: ReadonlyArray<string>) => names.map((n) => `${server}__${n}`)
const textOf = (result: unknown): string => (result as { content: Array<{ text: string }> }).content[0]!.text

describe("an agent on /mcp", () => {
  it("sees exactly the union of its grants on two servers, each renamed <server>__<name> with its server and name in _meta", async () => {
    app = await startAgentApp()
    const { client } = await app.client(await app.mint(PARTS_OF_TWO))
    const { tools } = await client.listTools()
    expect(namesOf(tools)).toEqual([...prefixed("fixture", ["echo", "search_a", "search_b"]), ...prefixed("tools", TOOLS_OF_TOOLS)])
    expect(tools[0]).toMatchObject({ name: "fixture__echo", description: "echo", _meta: { "dtma/server": "fixture", "dtma/name": "echo" } })
    expect(namesOf((await client.listPrompts()).prompts)).toEqual(["fixture__greet"])
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(["test://a", "test://b"])
    expect((await client.listResourceTemplates()).resourceTemplates).toEqual([])
    expect(client.getServerVersion()).toMatchObject({ name: "dtma" })
    expect(client.getServerCapabilities()).toMatchObject({ tools: { listChanged: true }, prompts: { listChanged: true }, resources: { subscribe: true } })
    expect(client.getInstructions()).toBe("## tools\nUse the echo tool.")
    await client.close()
  })

  it("calls, gets and reads on each server under the listed names, and the servers see their own names", async () => {
    app = await startAgentApp()
    const { client } = await app.client(await app.mint(PARTS_OF_TWO))
    expect(textOf(await client.callTool({ name: "fixture__echo", arguments: { text: "hi" } }))).toBe("hi")
    expect(textOf(await client.callTool({ name: "tools__add", arguments: { a: 2, b: 3 } }))).toBe("5")
    expect(await client.getPrompt({ name: "fixture__greet", arguments: { who: "ann" } })).toMatchObject({ messages: [{ content: { text: "hello ann" } }] })
    expect(await client.readResource({ uri: "test://b" })).toEqual({ contents: [{ uri: "test://b", text: "b" }] })
    expect(await client.complete({ ref: { type: "ref/prompt", name: "fixture__greet" }, argument: { name: "who", value: "a" } })).toMatchObject({
      completion: { values: ["ann"] },
    })
    expect(app.probe.seen.filter((m) => m.method === "tools/call" || m.method === "prompts/get").map((m) => m.params?.["name"])).toEqual(["echo", "greet"])
    await client.close()
  })

  it("gets the progress of a call on its own token, and a call it cancels is cancelled on the server", async () => {
    app = await startAgentApp()
    const { client } = await app.client(await app.mint(PARTS_OF_TWO))
    const progress: Array<unknown> = []
    const result = await client.callTool({ name: "tools__count", arguments: { tag: "p", steps: 3 } }, undefined, { onprogress: (p) => progress.push(p) })
    expect(textOf(result)).toBe("p done")
    expect(progress).toEqual([1, 2, 3].map((i) => ({ progress: i, total: 3, message: `p-${i}` })))

    const aborted = new AbortController()
    const waiting = client.callTool({ name: "tools__wait", arguments: { tag: "w" } }, undefined, { signal: aborted.signal })
    await eventually(() => expect(app.toolsProbe.waiting.has("w")).toBe(true))
    aborted.abort("enough")
    await expect(waiting).rejects.toThrow("enough")
    await eventually(() => expect(app.toolsProbe.cancelled).toEqual(["w"]))
    await client.close()
  })

  it("is answered for what its grants do not reach exactly as for what does not exist, and none of it reaches a server", async () => {
    app = await startAgentApp()
    const { client } = await app.client(await app.mint(PARTS_OF_TWO))
    const hidden = await client.callTool({ name: "fixture__secret", arguments: {} })
    const absent = await client.callTool({ name: "fixture__nothing", arguments: {} })
    expect(hidden).toEqual({ content: [{ type: "text", text: "MCP error -32602: Tool fixture__secret not found" }], isError: true })
    expect(absent).toEqual({ content: [{ type: "text", text: "MCP error -32602: Tool fixture__nothing not found" }], isError: true })
    await expect(client.getPrompt({ name: "fixture__private", arguments: { who: "a" } })).rejects.toThrow("Prompt fixture__private not found")
    await expect(client.readResource({ uri: "test://secret" })).rejects.toThrow("Resource test://secret not found")
    expect(app.probe.named()).not.toContain("secret")
    expect(app.probe.named()).not.toContain("private")
    await client.close()
  })

  it("another agent sees only its own grants, and the operator sees every server, colliding resource URIs wrapped as dtma://<server>/<uri>", async () => {
    app = await startAgentApp()
    const other = await app.client(await app.mint(ECHO_OF_TWIN, { sub: "agent-2" }))
    expect(namesOf((await other.client.listTools()).tools)).toEqual(["twin__echo"])
    expect((await other.client.listResources()).resources).toEqual([])
    expect(textOf(await other.client.callTool({ name: "twin__echo", arguments: { text: "two" } }))).toBe("two")
    expect((await other.client.callTool({ name: "fixture__echo", arguments: { text: "x" } })).isError).toBe(true)

    const operator = await app.client(TOKEN)
    expect(namesOf((await operator.client.listTools()).tools)).toEqual([
      ...prefixed("fixture", TOOLS_OF_FIXTURE),
      ...prefixed("tools", TOOLS_OF_TOOLS),
      ...prefixed("twin", TOOLS_OF_FIXTURE.slice(0, -1)),
    ])
    expect((await operator.client.listResources()).resources.map((r) => r.uri)).toEqual([
      "dtma://fixture/test://open",
      "test://secret",
      "test://a",
      "test://b",
      "dtma://twin/test://open",
    ])
    expect((await operator.client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual(["dtma://fixture/test://items/{id}"])
    expect(await operator.client.readResource({ uri: "dtma://twin/test://open" })).toEqual({
      contents: [{ uri: "dtma://twin/test://open", text: "open" }],
    })
    expect(await operator.client.readResource({ uri: "dtma://fixture/test://items/7" })).toMatchObject({ contents: [{ text: "item" }] })
    await other.client.close()
    await operator.client.close()
  })
})

describe("the lists of /mcp", () => {
  it("come in pages of DTMA_MCP_LIST_PAGE_SIZE under an opaque cursor, and a cursor it did not give is Invalid Params", async () => {
    app = await startAgentApp({ mcp: { listPageSize: 4 } })
    const session = await openSession(app.agentEndpoint, TOKEN)
    const names: Array<string> = []
    let cursor: string | undefined
    let pages = 0
    do {
      const answer = await ask(app.agentEndpoint, session, TOKEN, "tools/list", cursor === undefined ? {} : { cursor })
      const result = answer["result"] as { tools: Array<{ name: string }>; nextCursor?: string }
      expect(result.tools.length).toBeLessThanOrEqual(4)
      names.push(...namesOf(result.tools))
      cursor = result.nextCursor
      pages++
    } while (cursor !== undefined)
    expect(names).toHaveLength(TOOLS_OF_FIXTURE.length * 2 - 1 + TOOLS_OF_TOOLS.length)
    expect(pages).toBe(Math.ceil(names.length / 4))
    for (const bad of ["not-a-cursor", 7]) {
      expect(await ask(app.agentEndpoint, session, TOKEN, "tools/list", { cursor: bad })).toMatchObject({ error: { code: -32602 } })
    }
  })
})

describe("a server of /mcp that stops, fails or goes", () => {
  it("leaves the lists with list_changed; a call to it is an error naming it and its state, the others answer; it comes back with list_changed", async () => {
    app = await startAgentApp()
    const { client, heard } = await app.client(await app.mint(PARTS_OF_TWO))
    await Effect.runPromise(app.mcpServers.stop("tools"))
    await eventually(() => expect(heard.methods).toContain("notifications/tools/list_changed"))
    expect(namesOf((await client.listTools()).tools)).toEqual(prefixed("fixture", ["echo", "search_a", "search_b"]))
    expect((await client.listResources()).resources).toEqual([])
    const refused = await client.callTool({ name: "tools__echo", arguments: { text: "x" } }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(McpError)
    expect(refused).toMatchObject({ code: -32000, data: { server: "tools", state: "stopped" } })
    expect((refused as McpError).message).toContain("MCP server 'tools' is stopped")
    expect(textOf(await client.callTool({ name: "fixture__echo", arguments: { text: "still" } }))).toBe("still")

    heard.methods.length = 0
    await Effect.runPromise(app.mcpServers.start("tools"))
    await eventually(() => expect(heard.methods).toContain("notifications/tools/list_changed"))
    expect(namesOf((await client.listTools()).tools)).toContain("tools__echo")
    expect(textOf(await client.callTool({ name: "tools__echo", arguments: { text: "back" } }))).toBe("back")
    await client.close()
  })

  it("leaves the lists with list_changed when removed, and a call to what it listed names it as removed", async () => {
    app = await startAgentApp()
    const { client, heard } = await app.client(TOKEN)
    await Effect.runPromise(app.mcpServers.remove("tools"))
    await eventually(() => expect(heard.methods).toEqual(expect.arrayContaining(["notifications/tools/list_changed", "notifications/resources/list_changed"])))
    expect(namesOf((await client.listTools()).tools).filter((n) => n.startsWith("tools__"))).toEqual([])
    const refused = await client.callTool({ name: "tools__echo", arguments: { text: "x" } }).catch((e: unknown) => e)
    expect(refused).toMatchObject({ code: -32600, data: { server: "tools", state: "removed" } })
    expect(textOf(await client.callTool({ name: "twin__echo", arguments: { text: "alive" } }))).toBe("alive")
    await client.close()
  })

  it("answers a batch with a call to a stopped server and one to a live one in one 200: an error for the first, the answer for the second", async () => {
    app = await startAgentApp()
    const session = await openSession(app.agentEndpoint, TOKEN)
    await Effect.runPromise(app.mcpServers.stop("tools"))
    const call = (id: number, name: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: { text: `t${id}` } } })
    const res = await postIn(app.agentEndpoint, session, TOKEN, [call(1, "tools__echo"), call(2, "fixture__echo")])
    expect(res.status).toBe(200)
    const [first, second] = (await res.json()) as Array<Record<string, unknown>>
    expect(first).toMatchObject({ id: 1, error: { code: -32000, data: { server: "tools", state: "stopped" } } })
    expect(second).toMatchObject({ id: 2, result: { content: [{ text: "t2" }] } })
  })

  it("sends list_changed when a server's own lists change, once the DTMA has listed them again", async () => {
    app = await startAgentApp()
    const { client, heard } = await app.client(TOKEN)
    expect(textOf(await client.callTool({ name: "tools__add-tool", arguments: {} }))).toBe("extra-1")
    await eventually(() => expect(heard.methods).toContain("notifications/tools/list_changed"))
    expect(namesOf((await client.listTools()).tools)).toContain("tools__extra-1")
    expect(textOf(await client.callTool({ name: "tools__extra-1", arguments: {} }))).toBe("extra")
    await client.close()
  })

  it("sends no list_changed to a session whose lists did not change (a server it is not granted went)", async () => {
    app = await startAgentApp()
    const { client, heard } = await app.client(await app.mint(ECHO_OF_TWIN))
    await Effect.runPromise(app.mcpServers.stop("tools"))
    await Effect.runPromise(app.mcpServers.remove("fixture"))
    expect(textOf(await client.callTool({ name: "twin__echo", arguments: { text: "quiet" } }))).toBe("quiet")
    expect(heard.methods).toEqual([])
    await client.close()
  })
})

describe("notifications on /mcp", () => {
  it("carries a resource's updates under the URI subscribed with, and the servers' log messages; the session's end unsubscribes", async () => {
    app = await startAgentApp()
    const { client, transport, heard } = await app.client(TOKEN)
    await client.subscribeResource({ uri: "dtma://fixture/test://open" })
    await client.callTool({ name: "fixture__touch", arguments: { uri: "test://open" } })
    await client.callTool({ name: "tools__log", arguments: { text: "hello" } })
    await eventually(() => expect(heard.methods).toEqual(["notifications/resources/updated", "notifications/message"]))
    expect(heard.notifications[0]?.params).toEqual({ uri: "dtma://fixture/test://open" })
    expect(heard.notifications[1]?.params).toMatchObject({ level: "info", data: "hello" })
    expect(app.probe.seen.filter((m) => m.method === "resources/subscribe").map((m) => m.params?.["uri"])).toEqual(["test://open"])
    await transport.terminateSession()
    await client.close()
    await eventually(() => expect(app.probe.seen.filter((m) => m.method === "resources/unsubscribe").map((m) => m.params?.["uri"])).toEqual(["test://open"]))
  })
})

describe("the audit of /mcp", () => {
  it("writes one record per request, naming the server it went to and the name it has there", async () => {
    const auditLog = new InMemoryAuditLog()
    app = await startAgentApp({ auditLog })
    const token = await app.mint(PARTS_OF_TWO)
    const session = await openSession(app.agentEndpoint, token)
    const before = auditLog.records.length
    await ask(app.agentEndpoint, session, token, "tools/call", { name: "fixture__echo", arguments: { text: "a" } })
    await ask(app.agentEndpoint, session, token, "tools/call", { name: "tools__add", arguments: { a: 1, b: 1 } })
    await ask(app.agentEndpoint, session, token, "tools/list")
    await ask(app.agentEndpoint, session, token, "tools/call", { name: "fixture__secret", arguments: {} })
    const records = (await auditRecords(auditLog, before + 4)).slice(before)
    expect(records.map((r) => [r.route, r.server, r.method, r.name, r.outcome, r.errorCode])).toEqual([
      ["/mcp", "fixture", "tools/call", "echo", "ok", null],
      ["/mcp", "tools", "tools/call", "add", "ok", null],
      ["/mcp", null, "tools/list", null, "ok", null],
      ["/mcp", null, "tools/call", "fixture__secret", "denied", "insufficient_scope"],
    ])
    expect(records.every((r) => r.sessionId === session && r.caller?.kind === "agent")).toBe(true)
  })
})

describe("sessions of /mcp", () => {
  it("belong to their opener: another agent's request on one is told it does not exist", async () => {
    app = await startAgentApp()
    const mine = await app.mint(PARTS_OF_TWO)
    const session = await openSession(app.agentEndpoint, mine)
    const theirs = await app.mint(PARTS_OF_TWO, { sub: "agent-2" })
    const res = await postIn(app.agentEndpoint, session, theirs, { jsonrpc: "2.0", id: 1, method: "tools/list" })
    expect(res.status).toBe(404)
    expect((await ask(app.agentEndpoint, session, mine, "ping")).result).toEqual({})
  })

  it("end at once when their agent is revoked: the stream ends, a call in flight is answered so and cancelled on its server", async () => {
    app = await startAgentApp()
    const token = await app.mint([{ target: { server: "fixture" }, tools: ["*"], prompts: [], resources: false }])
    const session = await openSession(app.agentEndpoint, token)
    const notifications = await listen(app.agentEndpoint, session, token)
    const hold = { jsonrpc: "2.0", id: "h", method: "tools/call", params: { name: "fixture__hold", arguments: { tag: "h" }, _meta: { progressToken: "h" } } }
    const call = readStream(await postIn(app.agentEndpoint, session, token, hold))
    await expect.poll(() => app.probe.held.has("h"), { timeout: 5_000 }).toBe(true)
    await Effect.runPromise(app.agentAccess.access.revokeAgent("agent-1"))
    await Promise.all([notifications.ended, call.ended])
    expect(call.messages).toEqual([
      {
        jsonrpc: "2.0",
        id: "h",
        error: { code: -32010, message: "Unauthorized: the access token was revoked; the request was cancelled", data: { error: "invalid_token" } },
      },
    ])
    await expect.poll(() => app.probe.cancelled, { timeout: 5_000 }).toEqual(["h"])
  })
})
