import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { Grants } from "@dtma/domain"
import { startAgentApp, type AgentApp } from "../support/agentEndpointSupport.ts"
import { readStream } from "../support/grantsSupport.ts"
import { eventually, mcpHeaders, PROXY_IMAGE } from "../support/mcpProxySupport.ts"
import { TOKEN } from "../support/support.ts"

let app: AgentApp
const clients: Array<ModernClient> = []
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined)
  await app.close()
})

const MODERN = "2026-07-28"
const SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"

/** A v2 SDK client pinned to 2026-07-28 on `url`, and the notifications it heard, by method. */
const modernClient = async (url: string, token: string = TOKEN) => {
  const heard: Array<{ method: string; params: Record<string, unknown> }> = []
  const client = new ModernClient({ name: "modern-listen", version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN } } })
  for (const method of ["notifications/tools/list_changed", "notifications/resources/updated", "notifications/message"] as const)
    client.setNotificationHandler(method, (n) => void heard.push({ method, params: (n.params ?? {}) as Record<string, unknown> }))
  await client.connect(new ModernTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  clients.push(client)
  return { client, heard }
}

/** A hand-made subscriptions/listen, its stream read as it comes. */
const rawListen = async (url: string, notifications: Record<string, unknown>, token: string = TOKEN, id = 7) =>
  readStream(
    await fetch(url, {
      method: "POST",
      headers: { ...mcpHeaders(undefined, token), "mcp-protocol-version": MODERN, "mcp-method": "subscriptions/listen" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "subscriptions/listen",
        params: { notifications, _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} } },
      }),
    }),
  )

describe("subscriptions/listen", () => {
  it("on a server's endpoint: acknowledged first, then the server's tool list changes and updates of the resources asked for, tagged with its id", async () => {
    app = await startAgentApp()
    const url = `${app.base}/mcp-servers/tools/mcp`
    const stream = await rawListen(url, { toolsListChanged: true, promptsListChanged: true, resourceSubscriptions: ["test://a"] })
    expect(stream.status).toBe(200)
    await eventually(() => expect(stream.messages[0]).toBeDefined())
    // The proxy fixture announces tool list changes, not prompt ones (it has no prompts).
    expect(stream.messages[0]).toEqual({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: { notifications: { toolsListChanged: true, resourceSubscriptions: ["test://a"] }, _meta: { [SUBSCRIPTION]: 7 } },
    })
    const { client } = await modernClient(url)
    await client.callTool({ name: "add-tool", arguments: {} })
    await client.callTool({ name: "touch", arguments: { uri: "test://b" } })
    await client.callTool({ name: "touch", arguments: { uri: "test://a" } })
    await client.callTool({ name: "log", arguments: { text: "not here" } })
    await eventually(() => expect(stream.messages.map((m) => m["method"])).toContain("notifications/resources/updated"))
    expect(stream.messages.slice(1)).toEqual([
      { jsonrpc: "2.0", method: "notifications/tools/list_changed", params: { _meta: { [SUBSCRIPTION]: 7 } } },
      { jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "test://a", _meta: { [SUBSCRIPTION]: 7 } } },
    ])
    expect(app.toolsProbe.subscribed).toEqual(["test://a"])
  })

  it("with the v2 SDK client: listChanged fires through the listen stream the client opens itself, on both endpoints", async () => {
    app = await startAgentApp()
    for (const url of [`${app.base}/mcp-servers/tools/mcp`, app.agentEndpoint]) {
      let changed = 0
      const client = new ModernClient(
        { name: "modern-listen", version: "1.0.0" },
        { versionNegotiation: { mode: { pin: MODERN } }, listChanged: { tools: { autoRefresh: false, onChanged: () => void changed++ } } },
      )
      await client.connect(new ModernTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }))
      clients.push(client)
      await eventually(() => expect(client.autoOpenedSubscription).toBeDefined())
      const tool = url === app.agentEndpoint ? "tools__add-tool" : "add-tool"
      await client.callTool({ name: tool, arguments: {} })
      await eventually(() => expect(changed).toBeGreaterThan(0), 5_000)
    }
  })

  it("on /mcp: an agent hears list changes of what it is granted and the updates of a resource under the URI it asked with", async () => {
    app = await startAgentApp()
    const grants: Grants = [
      { target: { server: "fixture" }, tools: ["*"], prompts: [], resources: true },
      { target: { server: "tools" }, tools: ["add-tool", "extra-*"], prompts: [], resources: false },
    ]
    const token = await app.mint(grants)
    const stream = await rawListen(
      app.agentEndpoint,
      { toolsListChanged: true, resourceSubscriptions: ["dtma://fixture/test://open", "dtma://tools/test://a"] },
      token,
    )
    await eventually(() => expect(stream.messages[0]).toBeDefined())
    // Resources of `tools` are not granted: that subscription is taken as a server takes one of what it does not have (no update
    // will come), as `resources/subscribe` is, so that the answer says nothing of what exists.
    expect(stream.messages[0]).toMatchObject({
      params: { notifications: { toolsListChanged: true, resourceSubscriptions: ["dtma://fixture/test://open", "dtma://tools/test://a"] } },
    })
    expect(app.toolsProbe.subscribed).toEqual([])
    const { client } = await modernClient(app.agentEndpoint, token)
    await client.callTool({ name: "fixture__touch", arguments: { uri: "test://open" } })
    await client.callTool({ name: "tools__add-tool", arguments: {} })
    await eventually(() => expect(stream.messages).toHaveLength(3))
    expect(app.probe.seen.filter((m) => m.method === "resources/subscribe").map((m) => m.params?.["uri"])).toEqual(["test://open"])
    expect(stream.messages.slice(1)).toEqual(
      expect.arrayContaining([
        { jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "dtma://fixture/test://open", _meta: { [SUBSCRIPTION]: 7 } } },
        { jsonrpc: "2.0", method: "notifications/tools/list_changed", params: { _meta: { [SUBSCRIPTION]: 7 } } },
      ]),
    )
  })

  it("ends with a complete response when the server behind it is removed, and unsubscribes upstream when the client closes it", async () => {
    app = await startAgentApp()
    const gone = await rawListen(`${app.base}/mcp-servers/twin/mcp`, { toolsListChanged: true })
    await eventually(() => expect(gone.messages).toHaveLength(1))
    await Effect.runPromise(app.mcpServers.remove("twin"))
    expect(await gone.ended).toBe(true)
    expect(gone.messages[1]).toMatchObject({ id: 7, result: { resultType: "complete", _meta: { [SUBSCRIPTION]: 7 } } })

    const abort = new AbortController()
    const res = await fetch(`${app.base}/mcp-servers/fixture/mcp`, {
      method: "POST",
      signal: abort.signal,
      headers: { ...mcpHeaders(), "mcp-protocol-version": MODERN, "mcp-method": "subscriptions/listen" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 8,
        method: "subscriptions/listen",
        params: {
          notifications: { resourceSubscriptions: ["test://open"] },
          _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} },
        },
      }),
    })
    const open = readStream(res)
    await eventually(() => expect(open.messages).toHaveLength(1))
    expect(app.probe.seen.filter((m) => m.method === "resources/subscribe").map((m) => m.params?.["uri"])).toEqual(["test://open"])
    abort.abort()
    await eventually(() => expect(app.probe.seen.filter((m) => m.method === "resources/unsubscribe").map((m) => m.params?.["uri"])).toEqual(["test://open"]))
  })

  it("on a per_agent server's endpoint: an agent hears the list changes of its own instance, never another agent's", async () => {
    app = await startAgentApp()
    await perAgentTools()
    const [a, b] = [await app.mint(MINE, { sub: "agent-a" }), await app.mint(MINE, { sub: "agent-b" })]
    const url = `${app.base}/mcp-servers/mine/mcp`
    const [heardA, heardB] = [await rawListen(url, { toolsListChanged: true }, a), await rawListen(url, { toolsListChanged: true }, b)]
    await eventually(() => expect([heardA.messages.length, heardB.messages.length]).toEqual([1, 1]))
    expect(heardA.messages[0]).toMatchObject({ params: { notifications: { toolsListChanged: true } } })
    const { client } = await modernClient(url, a)
    await client.callTool({ name: "add-tool", arguments: {} })
    await eventually(() => expect(heardA.messages).toHaveLength(2))
    expect(heardA.messages[1]).toEqual({ jsonrpc: "2.0", method: "notifications/tools/list_changed", params: { _meta: { [SUBSCRIPTION]: 7 } } })
    const { client: clientB } = await modernClient(url, b)
    await clientB.callTool({ name: "add-tool", arguments: {} })
    await eventually(() => expect(heardB.messages).toHaveLength(2))
    expect(heardA.messages).toHaveLength(2)
    expect(Effect.runSync(app.mcpServers.get("mine")).instances.map((i) => i.agentId)).toEqual(["agent-a", "agent-b"])
  })

  it("refuses a listen asking for more than 100 resources with 400 and -32602 saying the limit, subscribing none", async () => {
    app = await startAgentApp()
    const url = `${app.base}/mcp-servers/tools/mcp`
    const many = Array.from({ length: 101 }, (_, i) => `test://r${i}`)
    const refused = await fetch(url, {
      method: "POST",
      headers: { ...mcpHeaders(), "mcp-protocol-version": MODERN, "mcp-method": "subscriptions/listen" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 3,
        method: "subscriptions/listen",
        params: {
          notifications: { resourceSubscriptions: many },
          _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} },
        },
      }),
    })
    expect(refused.status).toBe(400)
    expect(await refused.json()).toMatchObject({ jsonrpc: "2.0", id: 3, error: { code: -32602, message: expect.stringContaining("at most 100") } })
    expect(app.toolsProbe.subscribed).toEqual([])
    const hundred = await rawListen(url, { resourceSubscriptions: many.slice(0, 100) })
    await eventually(() => expect(hundred.messages[0]).toBeDefined())
    expect(app.toolsProbe.subscribed).toHaveLength(100)
  })

  it("audits each resource it subscribes to as a resources/subscribe of its own, named by its URI without the query", async () => {
    app = await startAgentApp()
    const token = await app.mint([{ target: { server: "tools" }, tools: [], prompts: [], resources: true }], { sub: "listener" })
    const before = app.auditLog.records.length
    const abort = new AbortController()
    const res = await fetch(`${app.base}/mcp-servers/tools/mcp`, {
      method: "POST",
      signal: abort.signal,
      headers: { ...mcpHeaders(undefined, token), "mcp-protocol-version": MODERN, "mcp-method": "subscriptions/listen" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 5,
        method: "subscriptions/listen",
        params: {
          notifications: { resourceSubscriptions: ["test://a?key=sk-in-query", "test://b"] },
          _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} },
        },
      }),
    })
    const stream = readStream(res)
    await eventually(() => expect(stream.messages[0]).toBeDefined())
    abort.abort()
    await eventually(() => expect(app.auditLog.records.length).toBe(before + 3))
    const records = app.auditLog.records.slice(before)
    expect(records.map((r) => [r.caller.kind === "agent" ? r.caller.sub : null, r.server, r.method, r.name, r.outcome, r.sessionId])).toEqual([
      ["listener", "tools", "subscriptions/listen", null, "cancelled", null],
      ["listener", "tools", "resources/subscribe", "test://a", "ok", null],
      ["listener", "tools", "resources/subscribe", "test://b", "ok", null],
    ])
    expect(JSON.stringify(records)).not.toContain("sk-in-query")
  })
})

describe("a 2026-07-28 tools/call on a per_agent server", () => {
  it("reaches the calling agent's own instance, on the server's endpoint and on /mcp", async () => {
    app = await startAgentApp()
    await perAgentTools()
    const [a, b] = [await app.mint(MINE, { sub: "agent-a" }), await app.mint(MINE, { sub: "agent-b" })]
    const textOf = (r: unknown) => (r as { content: Array<{ text: string }> }).content[0]?.text
    const { client: onEndpoint } = await modernClient(`${app.base}/mcp-servers/mine/mcp`, a)
    const { client: onAgentEndpoint } = await modernClient(app.agentEndpoint, a)
    const { client: other } = await modernClient(`${app.base}/mcp-servers/mine/mcp`, b)
    // `add-tool` names the tools its instance added so far: each agent counts its own.
    expect(textOf(await onEndpoint.callTool({ name: "add-tool", arguments: {} }))).toBe("extra-1")
    expect(textOf(await onAgentEndpoint.callTool({ name: "mine__add-tool", arguments: {} }))).toBe("extra-2")
    expect(textOf(await other.callTool({ name: "add-tool", arguments: {} }))).toBe("extra-1")
    expect(Effect.runSync(app.mcpServers.get("mine")).instances.map((i) => i.agentId)).toEqual(["agent-a", "agent-b"])
  })
})

const MINE: Grants = [{ target: { server: "mine" }, tools: ["*"], prompts: [], resources: false }]

/** The proxy fixture as `mine`, one instance per agent. */
const perAgentTools = () =>
  Effect.runPromise(
    app.mcpServers.deploy({
      name: "mine",
      accountToolInstanceId: null,
      image: PROXY_IMAGE,
      env: [],
      ports: [],
      mcp: { transport: "stdio", endpointPath: null, port: null, isolation: "per_agent" },
    }),
  )
