import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { Grants } from "@dtma/domain"
import { notesMcpServer } from "@dtma/testing"
import { DEFAULT_MCP_CONFIG } from "../../src/composition/mcpConfig.ts"
import { ask, INITIALIZE, openSession, postIn } from "../support/grantsSupport.ts"
import { eventually, mcpHeaders } from "../support/mcpProxySupport.ts"
import { mcpBody, McpServingRuntime, startTestApp, TOKEN, type TestApp } from "../support/support.ts"

const NOTES = "dtma/notes-fixture:1"

let app: TestApp & { mint(sub: string): Promise<string>; serving: McpServingRuntime }
afterEach(() => app.close())

type Isolation = "shared" | "per_agent"

/** The request deploying `memory` (stdio, `NOTES`) with `isolation`. */
const memory = (isolation: Isolation) => ({
  name: "memory",
  accountToolInstanceId: "ati-memory",
  image: NOTES,
  env: [],
  ports: [],
  mcp: { transport: "stdio", endpointPath: null, port: null, ...(isolation === "per_agent" ? { isolation } : {}) } as const,
})

const start = async (isolation: Isolation = "per_agent") => {
  const runtime = new McpServingRuntime({ images: [NOTES] })
  runtime.servers.set(NOTES, notesMcpServer)
  const started = await startTestApp({ runtime, config: { mcp: { ...DEFAULT_MCP_CONFIG, isolatedMax: 2 } } })
  await Effect.runPromise(started.mcpServers.deploy(memory(isolation)))
  const grants: Grants = [{ target: { server: "memory" }, tools: ["*"], prompts: ["*"], resources: true }]
  app = { ...started, serving: runtime, mint: (sub) => Effect.runPromise(started.agentAccess.tokens.mint({ sub, grants, ttlSeconds: 900 })) }
}

const endpoint = () => `${app.base}/mcp-servers/memory/mcp`
const agentEndpoint = () => `${app.base}/mcp`

const textOf = (answer: Record<string, unknown>): string => (answer["result"] as { content: Array<{ text: string }> }).content[0]!.text

const call = async (url: string, session: string, token: string, name: string, args: Record<string, unknown> = {}) =>
  textOf(await ask(url, session, token, "tools/call", { name, arguments: args }))

describe("an agent on a per_agent server", () => {
  it("reaches an instance of its own through the server's endpoint and through /mcp; the operator reaches the base instance", async () => {
    await start()
    const [a, b] = [await app.mint("agent-a"), await app.mint("agent-b")]
    const sa = await openSession(endpoint(), a)
    const sb = await openSession(agentEndpoint(), b)
    await call(endpoint(), sa, a, "remember", { text: "a's" })
    await call(agentEndpoint(), sb, b, "memory__remember", { text: "b's" })
    expect(await call(endpoint(), sa, a, "recall")).toBe("a's")
    expect(await call(agentEndpoint(), sb, b, "memory__recall")).toBe("b's")
    // Agent a on /mcp reaches the same instance as on the server's endpoint.
    const sa2 = await openSession(agentEndpoint(), a)
    expect(await call(agentEndpoint(), sa2, a, "memory__recall")).toBe("a's")
    const so = await openSession(endpoint(), TOKEN)
    expect(await call(endpoint(), so, TOKEN, "recall")).toBe("")
    expect(app.runtime.containerCount()).toBe(3)

    const detail: { data: { isolation: string; instances: Array<{ agentId: string; healthStatus: string }> } } = await fetch(`${app.base}/mcp-servers/memory`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    }).then((r) => r.json() as never)
    expect(detail.data.isolation).toBe("per_agent")
    expect(detail.data.instances.map((i: { agentId: string; healthStatus: string }) => [i.agentId, i.healthStatus])).toEqual([
      ["agent-a", "healthy"],
      ["agent-b", "healthy"],
    ])
    const listed: { data: { servers: Array<{ instanceName: string; instances: number }> } } = await fetch(`${app.base}/mcp-servers`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    }).then((r) => r.json() as never)
    expect(listed.data.servers.map((s: { instanceName: string; instances: number }) => [s.instanceName, s.instances])).toEqual([["memory", 2]])
  })

  it("past the server's most instances, is refused with a JSON-RPC error naming the server and the limit, audited as rate limited", async () => {
    await start()
    await openSession(endpoint(), await app.mint("agent-a"))
    await openSession(endpoint(), await app.mint("agent-b"))
    const c = await app.mint("agent-c")
    const refused = await fetch(endpoint(), { method: "POST", headers: mcpHeaders(undefined, c), body: JSON.stringify(INITIALIZE) })
    expect(refused.status).toBe(429)
    const body = (await refused.json()) as { error: { message: string } }
    expect(body).toMatchObject({ jsonrpc: "2.0", id: 0, error: { code: expect.any(Number) } })
    expect(body.error.message).toContain("'memory'")
    expect(body.error.message).toContain("already runs 2")

    // On /mcp the refusal is that request's alone, naming the server.
    const sc = await openSession(agentEndpoint(), c)
    const answer = await ask(agentEndpoint(), sc, c, "tools/call", { name: "memory__recall", arguments: {} })
    expect(answer["error"]).toMatchObject({ data: { server: "memory", state: "at_instance_limit" } })
    expect(JSON.stringify(answer)).toContain("already runs 2")
    await expect
      .poll(() =>
        app.auditLog.records.filter((r) => r.caller.kind === "agent" && r.caller.sub === "agent-c" && r.server === "memory").map((r) => [r.method, r.outcome]),
      )
      .toEqual([
        ["initialize", "rate_limited"],
        ["tools/call", "rate_limited"],
      ])
  })
})

describe("an agent whose instance cannot start", () => {
  it("is told the server and its state, never what the instance printed; the operator's log has it", async () => {
    await start()
    const STDERR = "fatal: registry.internal:5000 refused credentials for robot$ci"
    // Containers made from now on print that and never serve: the agents' instances, not the running base.
    app.serving.servers.delete(NOTES)
    app.serving.stderr.set(NOTES, STDERR)
    const a = await app.mint("agent-a")
    const refused = await fetch(endpoint(), { method: "POST", headers: mcpHeaders(undefined, a), body: JSON.stringify(INITIALIZE) })
    const onEndpoint = await refused.text()
    const sa = await openSession(agentEndpoint(), a)
    const onAgentEndpoint = await ask(agentEndpoint(), sa, a, "tools/call", { name: "memory__recall", arguments: {} })
    expect(onAgentEndpoint["error"]).toMatchObject({ data: { server: "memory", state: "starting" } })
    for (const told of [onEndpoint, JSON.stringify(onAgentEndpoint)]) {
      expect(told).toContain("'memory'")
      expect(told).not.toContain("registry.internal")
      expect(told).not.toContain("memory/agent-a")
    }
    await eventually(() => expect(app.logs.filter((l) => l.includes("registry.internal") && l.includes("agent-a"))).not.toEqual([]))
  })
})

describe("an agent on a shared server", () => {
  it("shares its one instance with every agent, as before", async () => {
    await start("shared")
    const [a, b] = [await app.mint("agent-a"), await app.mint("agent-b")]
    const sa = await openSession(endpoint(), a)
    const sb = await openSession(agentEndpoint(), b)
    await call(endpoint(), sa, a, "remember", { text: "shared" })
    expect(await call(agentEndpoint(), sb, b, "memory__recall")).toBe("shared")
    expect(app.runtime.containerCount()).toBe(1)
  })
})

/**
 * Redeploys `memory` from `from` to `to` (the same image) with a session of agent a open, then b writes
 * in a new session: what a's open session answers (its HTTP status), what a new one of a's recalls,
 * and the agents' instances.
 */
const switchIsolation = async (from: Isolation, to: Isolation) => {
  await start(from)
  const [a, b] = [await app.mint("agent-a"), await app.mint("agent-b")]
  const before = await openSession(endpoint(), a)
  await call(endpoint(), before, a, "remember", { text: "a's" })
  await Effect.runPromise(app.mcpServers.redeploy(memory(to)))
  const stale = await postIn(endpoint(), before, a, { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "recall", arguments: {} } })
  await call(endpoint(), await openSession(endpoint(), b), b, "remember", { text: "b's" })
  const recalled = await call(endpoint(), await openSession(endpoint(), a), a, "recall")
  return { stale: stale.status, recalled, instances: Effect.runSync(app.mcpServers.get("memory")).instances.map((i) => i.agentId) }
}

describe("a redeploy changing a server's isolation, the same image", () => {
  it("from shared to per_agent ends an agent's open sessions: its next session reaches what the new isolation gives it", async () => {
    // An instance of its own, which b never wrote to.
    expect(await switchIsolation("shared", "per_agent")).toEqual({ stale: 404, recalled: "", instances: ["agent-a", "agent-b"] })
  })

  it("from per_agent to shared ends an agent's open sessions: its next session reaches what the new isolation gives it", async () => {
    // The one instance, which b wrote to.
    expect(await switchIsolation("per_agent", "shared")).toEqual({ stale: 404, recalled: "b's", instances: [] })
  })
})

describe("deploying with isolation", () => {
  it("refuses an isolation that is neither shared nor per_agent with a 400 naming the field", async () => {
    await start()
    const res = await fetch(`${app.base}/mcp-servers`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(mcpBody({ instanceNameOnToolbox: "other", isolation: "per_user" })),
    })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: string }
    expect(body.error).toContain("isolation")
    expect(body.error).toContain('"shared" or "per_agent"')
  })

  it("deploys a per_agent server, shown as such", async () => {
    await start()
    const res = await fetch(`${app.base}/mcp-servers`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(mcpBody({ dockerImageUrl: NOTES, instanceNameOnToolbox: "other", isolation: "per_agent" })),
    })
    expect(res.status).toBe(201)
    expect(Effect.runSync(app.mcpServers.get("other"))).toMatchObject({ isolation: "per_agent", instances: [] })
  })
})
