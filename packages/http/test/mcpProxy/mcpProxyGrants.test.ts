import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { Grants } from "@dtma/domain"
import { DEFAULT_MCP_CONFIG } from "../../src/composition/mcpConfig.ts"
import { mcpHeaders, proxyClient } from "../support/mcpProxySupport.ts"
import { answerOf, ask, FIXTURE_ATI, GRANTS_IMAGE, INITIALIZE, listen, openSession, postIn, startGrantsApp, type GrantsApp } from "../support/grantsSupport.ts"
import { TOKEN } from "../support/support.ts"

let app: GrantsApp
afterEach(() => app.close())

/** Some of the fixture: two named tools and a prefix, one prompt, no resources. */
const SOME: Grants = [{ target: { server: "fixture" }, tools: ["echo", "touch", "log", "hold", "search_*"], prompts: ["greet"], resources: false }]
const ALL_BY_ATI: Grants = [{ target: { accountToolInstanceId: FIXTURE_ATI }, tools: ["*"], prompts: ["*"], resources: true }]
const ELSEWHERE: Grants = [{ target: { server: "elsewhere" }, tools: ["*"], prompts: ["*"], resources: true }]

const namesOf = (answer: Record<string, unknown>, field: string): ReadonlyArray<string> =>
  ((answer["result"] as Record<string, Array<{ name: string }>>)[field] ?? []).map((i) => i.name)

/** Every tool of the fixture a session is shown, page after page. */
const allTools = async (sessionId: string, token: string): Promise<ReadonlyArray<string>> => {
  const names: Array<string> = []
  let cursor: string | undefined
  do {
    const answer = await ask(app.endpoint(), sessionId, token, "tools/list", cursor === undefined ? {} : { cursor })
    names.push(...namesOf(answer, "tools"))
    cursor = (answer["result"] as { nextCursor?: string }).nextCursor
  } while (cursor !== undefined)
  return names
}

const exchange = async (method: string, path: string, token: string) => {
  const headers = { ...mcpHeaders("some-session", token), accept: method === "GET" ? "text/event-stream" : "application/json, text/event-stream" }
  const res = await fetch(`${app.base}${path}`, { method, headers, ...(method === "POST" ? { body: JSON.stringify(INITIALIZE) } : {}) })
  return { status: res.status, challenge: res.headers.get("www-authenticate"), body: await res.text() }
}

describe("an agent on the proxied endpoint of a server no grant of its names", () => {
  it("gets 403 insufficient_scope, byte for byte the same whether the server exists or not, on POST, GET and DELETE", async () => {
    app = await startGrantsApp()
    const token = await app.mint(ELSEWHERE)
    const path = "/mcp-servers/late/mcp"
    const before = await Promise.all(["POST", "GET", "DELETE"].map((m) => exchange(m, path, token)))
    const mcp = { transport: "stdio", endpointPath: null, port: null } as const
    await Effect.runPromise(app.mcpServers.deploy({ name: "late", accountToolInstanceId: null, image: GRANTS_IMAGE, env: [], ports: [], mcp }))
    const after = await Promise.all(["POST", "GET", "DELETE"].map((m) => exchange(m, path, token)))

    expect(after).toEqual(before)
    for (const refusal of before) {
      expect(refusal.status).toBe(403)
      expect(refusal.challenge).toBe(
        'Bearer error="insufficient_scope", scope="dtma:server:late", ' +
          'resource_metadata="http://127.0.0.1:30000/.well-known/oauth-protected-resource/mcp-servers/late/mcp"',
      )
      expect(JSON.parse(refusal.body)).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32011, data: { error: "insufficient_scope" } } })
    }
  })

  it("names the scope that would do, percent-encoded", async () => {
    app = await startGrantsApp()
    const refusal = await exchange("POST", "/mcp-servers/w%C3%A9ird%20name/mcp", await app.mint(ELSEWHERE))
    expect(refusal.status).toBe(403)
    expect(refusal.challenge).toContain('scope="dtma:server:w%C3%A9ird%20name"')
  })

  it("passes with a grant naming the server by its account tool instance, and the operator passes as before", async () => {
    app = await startGrantsApp()
    await openSession(app.endpoint(), await app.mint(ALL_BY_ATI))
    await openSession(app.endpoint(), TOKEN)
    expect((await exchange("POST", "/mcp-servers/twin/mcp", await app.mint(ALL_BY_ATI))).status).toBe(403)
  })
})

describe("an agent inside a session of a server its grants name", () => {
  it("is shown only the tools, prompts, resources and templates it is granted, page by page", async () => {
    app = await startGrantsApp()
    const some = await app.mint(SOME)
    const session = await openSession(app.endpoint(), some)
    expect(await allTools(session, some)).toEqual(["echo", "touch", "log", "hold", "search_a", "search_b"])
    expect(namesOf(await ask(app.endpoint(), session, some, "prompts/list"), "prompts")).toEqual(["greet"])
    expect(await ask(app.endpoint(), session, some, "resources/list")).toMatchObject({ result: { resources: [] } })
    expect(await ask(app.endpoint(), session, some, "resources/templates/list")).toMatchObject({ result: { resourceTemplates: [] } })

    const operator = await openSession(app.endpoint(), TOKEN)
    expect(await allTools(operator, TOKEN)).toEqual(["echo", "touch", "log", "hold", "search_a", "search_b", "secret"])
    expect(namesOf(await ask(app.endpoint(), operator, TOKEN, "prompts/list"), "prompts")).toEqual(["greet", "private"])
  })

  it("is shown the same through an SDK client, and can call what it is granted", async () => {
    app = await startGrantsApp()
    const { client } = await proxyClient(app.endpoint(), await app.mint(SOME))
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["echo", "touch", "log"])
    expect(await client.listTools({ cursor: "6" })).toEqual({ tools: [] })
    expect(await client.callTool({ name: "echo", arguments: { text: "hi" } })).toMatchObject({ content: [{ text: "hi" }] })
    expect(await client.getPrompt({ name: "greet", arguments: { who: "ann" } })).toMatchObject({ messages: [{ content: { text: "hello ann" } }] })
    await client.close()
  })

  it("gets for what it is not granted exactly the answer the server gives for what it does not have, and none of it reaches the server", async () => {
    app = await startGrantsApp()
    const some = await app.mint(SOME)
    const agent = await openSession(app.endpoint(), some)
    const operatorOnTwin = await openSession(app.endpoint("twin"), TOKEN)
    const asked: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
      ["tools/call", { name: "secret", arguments: {} }],
      ["prompts/get", { name: "private", arguments: { who: "ann" } }],
      ["resources/read", { uri: "test://secret" }],
      ["resources/read", { uri: "test://items/1" }],
      ["resources/subscribe", { uri: "test://secret" }],
      ["resources/unsubscribe", { uri: "test://secret" }],
      ["completion/complete", { ref: { type: "ref/prompt", name: "private" }, argument: { name: "who", value: "a" } }],
      ["completion/complete", { ref: { type: "ref/resource", uri: "test://items/{id}" }, argument: { name: "id", value: "1" } }],
    ]
    for (const [i, [method, params]] of asked.entries()) {
      const ungranted = await ask(app.endpoint(), agent, some, method, params, i)
      const missing = await ask(app.endpoint("twin"), operatorOnTwin, TOKEN, method, params, i)
      expect([method, params, ungranted]).toEqual([method, params, missing])
    }
    expect(app.probe.named()).not.toContain("secret")
    expect(app.probe.named()).not.toContain("private")
    expect(app.probe.named().filter((n) => n.startsWith("test://"))).toEqual([])
  })

  it("is answered by each request's own token: a newer one of the same agent with more grants shows more on the same session", async () => {
    app = await startGrantsApp()
    const some = await app.mint(SOME)
    const all = await app.mint(ALL_BY_ATI)
    const session = await openSession(app.endpoint(), some)
    expect(await allTools(session, some)).not.toContain("secret")
    expect(await allTools(session, all)).toContain("secret")
    expect(await ask(app.endpoint(), session, all, "tools/call", { name: "secret", arguments: {} })).toMatchObject({
      result: { content: [{ text: "the secret" }] },
    })
    expect(await ask(app.endpoint(), session, some, "tools/call", { name: "secret", arguments: {} })).toMatchObject({ result: { isError: true } })
  })

  it("hears a resource's updates only while the token that last authorized its session grants resources", async () => {
    // Pings out of the way: one in flight beside the session's own log call would hide whose its message is.
    app = await startGrantsApp({ config: { mcp: { ...DEFAULT_MCP_CONFIG, pingBaseMs: 600_000, pingMaxMs: 600_000 } } })
    const all = await app.mint(ALL_BY_ATI)
    const some = await app.mint(SOME)
    const session = await openSession(app.endpoint(), all)
    expect(await ask(app.endpoint(), session, all, "resources/subscribe", { uri: "test://open" })).toMatchObject({ result: {} })
    const operator = await openSession(app.endpoint(), TOKEN)
    const touch = () => ask(app.endpoint(), operator, TOKEN, "tools/call", { name: "touch", arguments: { uri: "test://open" } })
    // The session's own call: its log message comes to the session's stream, after what came before.
    const log = (text: string) => ask(app.endpoint(), session, some, "tools/call", { name: "log", arguments: { text } })

    const narrowed = await listen(app.endpoint(), session, some)
    expect(narrowed.status).toBe(200)
    await touch()
    await log("after the first touch")
    await expect.poll(() => narrowed.messages.map((m) => m["method"]), { timeout: 5_000 }).toContain("notifications/message")
    expect(narrowed.messages.map((m) => m["method"])).toEqual(["notifications/message"])

    await ask(app.endpoint(), session, all, "ping")
    await touch()
    await expect.poll(() => narrowed.messages.map((m) => m["method"]), { timeout: 5_000 }).toEqual(["notifications/message", "notifications/resources/updated"])
  })

  it("sends the server none of its notifications but cancellations", async () => {
    app = await startGrantsApp()
    const some = await app.mint(SOME)
    const session = await openSession(app.endpoint(), some)
    const res = await postIn(app.endpoint(), session, some, { jsonrpc: "2.0", method: "notifications/roots/list_changed" })
    expect(res.status).toBe(202)
    // A request that goes to the server after it: a notification forwarded before would be there first.
    await ask(app.endpoint(), session, some, "tools/list")
    expect(app.probe.seen.map((m) => m.method)).not.toContain("notifications/roots/list_changed")
  })
})

describe("a client session", () => {
  const unknown = async (method: string, sessionId: string, token: string) => {
    const headers = { ...mcpHeaders(sessionId, token), "mcp-protocol-version": "2025-11-25", ...(method === "GET" ? { accept: "text/event-stream" } : {}) }
    const body = method === "POST" ? { body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }) } : {}
    const res = await fetch(app.endpoint(), { method, headers, ...body })
    return { status: res.status, body: await res.text() }
  }

  it("is to anyone but its owner exactly an unknown session, on POST, GET and DELETE, and stays its owner's", async () => {
    app = await startGrantsApp()
    const owner = await app.mint(ALL_BY_ATI)
    const session = await openSession(app.endpoint(), owner)
    const strangers = [await app.mint(ALL_BY_ATI, { sub: "agent-2" }), await app.mint(ALL_BY_ATI, { issuer: "https://other-issuer.example" }), TOKEN]
    for (const method of ["POST", "GET", "DELETE"]) {
      const notFound = await unknown(method, "no-such-session", owner)
      expect(notFound.status).toBe(404)
      for (const stranger of strangers) expect(await unknown(method, session, stranger)).toEqual(notFound)
    }
    const again = await app.mint(ALL_BY_ATI)
    expect(await answerOf(await postIn(app.endpoint(), session, again, { jsonrpc: "2.0", id: 5, method: "ping" }))).toMatchObject({ id: 5, result: {} })
  })

  it("of the operator serves every operator key and no agent", async () => {
    app = await startGrantsApp()
    const session = await openSession(app.endpoint(), TOKEN)
    expect((await unknown("POST", session, "second-inbound-token")).status).toBe(200)
    expect((await unknown("POST", session, await app.mint(ALL_BY_ATI))).status).toBe(404)
  })
})
