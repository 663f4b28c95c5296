import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { echoMcpServer, notesMcpServerWith } from "@dtma/testing"
import type { McpServerGone, McpServers, McpServersSettings } from "../../src/index.ts"
import { droplet, request } from "./mcpDroplet.ts"
import { testSupervision } from "./testSupervision.ts"

/** Lets the `hold` tool answer. */
let release: () => void = () => undefined

/** Keeps what it is told per process; its `hold` answers once released. */
const notesServer = notesMcpServerWith({ hold: () => new Promise<void>((resolve) => (release = resolve)) })

let d: ReturnType<typeof droplet>
afterEach(async () => {
  await d.vt.close()
})

const IDLE_MS = 1_000

const setUp = async (settings: Partial<McpServersSettings> = {}) => {
  d = droplet({
    servers: { "mcp/notes:1": notesServer, "mcp/notes:2": notesServer, "mcp/echo:1": echoMcpServer },
    settings: testSupervision({ isolatedIdleMs: IDLE_MS, isolatedMax: 3, ...settings }),
  })
  return (await d.start()).mcp
}

const perAgent = (overrides: Parameters<typeof request>[0] = {}) =>
  request({ name: "memory", image: "mcp/notes:1", mcp: { transport: "stdio", endpointPath: null, port: null, isolation: "per_agent" }, ...overrides })

const call = (mcp: McpServers, name: string, tool: string, args: Record<string, unknown> = {}) =>
  mcp.session(name).pipe(
    Effect.flatMap((s) => s.forward("client", { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: tool, arguments: args } }, { timeoutMs: 500 })),
    Effect.map((r) => ("result" in r ? (r.result as { content: Array<{ text: string }> }).content[0]?.text : r.error.message)),
  )

/** What `agent` reaches on `server`: its instance, then a call there. */
const callAs = (mcp: McpServers, agent: string | null, tool: string, args: Record<string, unknown> = {}) =>
  mcp.instanceFor("memory", agent).pipe(Effect.flatMap((name) => call(mcp, name, tool, args)))

const containersOf = async (server: string) => (await d.vt.run(d.instances.listIsolated())).filter((c) => c.isolatedFor?.server === server)

describe("a per_agent MCP server", () => {
  it("gives each agent an instance of its own, whose state no other agent sees, hidden from the server list", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(perAgent()))
    await d.vt.run(callAs(mcp, "agent-a", "remember", { text: "a's secret" }))
    await d.vt.run(callAs(mcp, "agent-b", "remember", { text: "b's plan" }))
    expect(await d.vt.run(callAs(mcp, "agent-a", "recall"))).toBe("a's secret")
    expect(await d.vt.run(callAs(mcp, "agent-b", "recall"))).toBe("b's plan")
    // The operator gets the server's base instance, which no agent wrote to.
    expect(await d.vt.run(callAs(mcp, null, "recall"))).toBe("")
    expect(d.runtime.containerCount()).toBe(3)
    expect(mcp.list().map((v) => v.instanceName)).toEqual(["memory"])
    const view = await d.vt.run(mcp.get("memory"))
    expect(view.isolation).toBe("per_agent")
    expect(view.instances.map((i) => [i.agentId, i.healthStatus])).toEqual([
      ["agent-a", "healthy"],
      ["agent-b", "healthy"],
    ])
    const containers = await containersOf("memory")
    expect(view.instances.map((i) => i.containerId).sort()).toEqual(containers.map((c) => c.containerId).sort())
    expect(containers.map((c) => c.isolatedFor?.agent).sort()).toEqual(["agent-a", "agent-b"])
    // The agents' instances are no servers of their own to anyone outside.
    expect(mcp.isMcpServer("memory/agent-a")).toBe(false)
    expect(await d.vt.failure(mcp.get("memory/agent-a"))).toMatchObject({ _tag: "InstanceNotFound" })
    expect((await d.vt.run(d.instances.list())).map((c) => c.name)).toEqual(["memory"])
  })

  it("makes one instance for an agent's concurrent first calls", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(perAgent()))
    const names = await Promise.all(Array.from({ length: 6 }, () => d.vt.run(mcp.instanceFor("memory", "agent-a"))))
    expect(new Set(names)).toEqual(new Set(["memory/agent-a"]))
    expect(await containersOf("memory")).toHaveLength(1)
    expect(d.runtime.containerCount()).toBe(2)
  })

  it("answers at once, without waiting, once the agent's instance is there", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(perAgent()))
    await d.vt.run(mcp.instanceFor("memory", "agent-a"))
    expect(Effect.runSync(mcp.instanceFor("memory", "agent-a"))).toBe("memory/agent-a")
  })

  it("removes an instance left idle, and the agent's next call brings a new one", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(perAgent()))
    await d.vt.run(callAs(mcp, "agent-a", "remember", { text: "x" }))
    const [first] = await containersOf("memory")
    await d.vt.advance(IDLE_MS / 2)
    await d.vt.run(callAs(mcp, "agent-a", "recall"))
    await d.vt.advance(IDLE_MS / 2 + 300)
    // Used half-way: not idle yet.
    expect(await containersOf("memory")).toHaveLength(1)
    await d.vt.until(async () => (await containersOf("memory")).length === 0, { stepMs: 100, limitMs: 3_000 })
    expect((await d.vt.run(mcp.get("memory"))).instances).toEqual([])
    expect(d.runtime.containerCount()).toBe(1)
    expect(await d.vt.run(callAs(mcp, "agent-a", "recall"))).toBe("")
    const [second] = await containersOf("memory")
    expect(second?.containerId).not.toBe(first?.containerId)
  })

  it("keeps an instance with a call in flight however long it takes, and removes it once idle after", async () => {
    const mcp = await setUp({ requestTimeoutMs: 60_000 })
    await d.vt.run(mcp.deploy(perAgent()))
    const name = await d.vt.run(mcp.instanceFor("memory", "agent-a"))
    const held = d.vt.run(
      mcp
        .session(name)
        .pipe(
          Effect.flatMap((s) =>
            s.forward("client", { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "hold", arguments: {} } }, { timeoutMs: 60_000 }),
          ),
        ),
    )
    await d.vt.advance(IDLE_MS * 5)
    expect(await containersOf("memory")).toHaveLength(1)
    release()
    expect(await held).toMatchObject({ result: { content: [{ text: "released" }] } })
    await d.vt.until(async () => (await containersOf("memory")).length === 0, { stepMs: 100, limitMs: 3_000 })
  })

  it("refuses an agent's instance past the server's most, naming the server and the limit, until one goes idle", async () => {
    const mcp = await setUp({ isolatedMax: 2 })
    await d.vt.run(mcp.deploy(perAgent()))
    await d.vt.run(mcp.instanceFor("memory", "agent-a"))
    await d.vt.run(mcp.instanceFor("memory", "agent-b"))
    const refused = await d.vt.failure(mcp.instanceFor("memory", "agent-c"))
    expect(refused).toMatchObject({ _tag: "IsolatedInstanceLimit", name: "memory", limit: 2 })
    expect(refused.message).toContain("'memory'")
    expect(refused.message).toContain("2")
    expect(await containersOf("memory")).toHaveLength(2)
    await d.vt.until(async () => (await containersOf("memory")).length === 0, { stepMs: 100, limitMs: 3_000 })
    expect(await d.vt.run(mcp.instanceFor("memory", "agent-c"))).toBe("memory/agent-c")
  })

  it("leaves no container of its own behind when it is removed", async () => {
    const mcp = await setUp()
    const gone: Array<McpServerGone> = []
    mcp.subscribeGone((g) => gone.push(g))
    await d.vt.run(mcp.deploy(perAgent()))
    await d.vt.run(mcp.instanceFor("memory", "agent-a"))
    await d.vt.run(mcp.instanceFor("memory", "agent-b"))
    await d.vt.run(mcp.remove("memory"))
    expect(d.runtime.containerCount()).toBe(0)
    expect(gone).toContainEqual({ name: "memory", reason: "removed" })
    expect(gone).toContainEqual({ name: "memory/agent-a", reason: "removed" })
    expect(await d.vt.failure(mcp.instanceFor("memory", "agent-a"))).toMatchObject({ _tag: "InstanceNotFound", name: "memory" })
  })

  it("refuses an agent's first call while it is being removed, and leaves no container of its own behind", async () => {
    const mcp = await setUp({ requestTimeoutMs: 60_000, drainTimeoutMs: 5_000 })
    await d.vt.run(mcp.deploy(perAgent()))
    // The operator's call in flight keeps the removal draining the base instance.
    const held = d.vt.run(
      mcp
        .session("memory")
        .pipe(
          Effect.flatMap((s) =>
            s.forward("client", { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "hold", arguments: {} } }, { timeoutMs: 60_000 }),
          ),
        ),
    )
    await d.vt.advance(0)
    let removed = false
    const removal = d.vt.run(mcp.remove("memory")).then(() => void (removed = true))
    await d.vt.advance(100)
    const raced = await d.vt.run(Effect.exit(mcp.instanceFor("memory", "agent-b")))
    expect(raced._tag).toBe("Failure")
    expect(JSON.stringify(raced)).toContain("McpServerUnavailable")
    release()
    await d.vt.until(() => removed, { stepMs: 100, limitMs: 10_000 })
    await Promise.all([held, removal])
    await d.vt.advance(IDLE_MS)
    expect(await containersOf("memory")).toEqual([])
    expect(d.runtime.containerCount()).toBe(0)
  })

  it("replaces its agents' instances on a redeploy, ending their sessions: each agent's next call runs the new image", async () => {
    const mcp = await setUp()
    const gone: Array<McpServerGone> = []
    mcp.subscribeGone((g) => gone.push(g))
    await d.vt.run(mcp.deploy(perAgent()))
    await d.vt.run(callAs(mcp, "agent-a", "remember", { text: "old" }))
    await d.vt.run(mcp.redeploy(perAgent({ image: "mcp/notes:2" })))
    expect(await containersOf("memory")).toEqual([])
    expect(gone).toContainEqual({ name: "memory", reason: "replaced" })
    expect(await d.vt.run(callAs(mcp, "agent-a", "recall"))).toBe("")
    expect((await containersOf("memory")).map((c) => c.image)).toEqual(["mcp/notes:2"])
  })

  it("stops its agents' instances with it; each starts again, the same container, on its agent's next call once the server runs", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(perAgent()))
    await d.vt.run(mcp.instanceFor("memory", "agent-a"))
    const [before] = await containersOf("memory")
    await d.vt.run(mcp.stop("memory"))
    expect((await containersOf("memory")).map((c) => c.state)).toEqual(["exited"])
    expect((await d.vt.run(mcp.get("memory"))).instances.map((i) => i.healthStatus)).toEqual(["stopped"])
    expect(await d.vt.failure(mcp.instanceFor("memory", "agent-a"))).toMatchObject({ _tag: "McpServerUnavailable", name: "memory" })
    await d.vt.run(mcp.start("memory"))
    await d.vt.run(mcp.instanceFor("memory", "agent-a"))
    const [after] = await containersOf("memory")
    expect(after).toMatchObject({ containerId: before?.containerId, state: "running" })
    expect((await d.vt.run(mcp.get("memory"))).instances.map((i) => i.healthStatus)).toEqual(["healthy"])
  })

  it("is adopted with its agents' instances by the next DTMA: the same containers, each agent's state still there", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(perAgent()))
    await d.vt.run(callAs(mcp, "agent-a", "remember", { text: "kept" }))
    await d.vt.run(mcp.instanceFor("memory", "agent-b"))
    const before = (await d.vt.run(mcp.get("memory"))).instances.map((i) => [i.agentId, i.containerId])
    // A server whose agent's container outlived it: adoption removes the orphan.
    await d.vt.run(mcp.deploy(perAgent({ name: "gone" })))
    await d.vt.run(mcp.instanceFor("gone", "agent-a"))
    const next = (await d.start()).mcp
    await d.vt.run(d.instances.remove("gone"))
    await d.vt.run(next.adopt())
    expect((await d.vt.run(next.get("memory"))).instances.map((i) => [i.agentId, i.containerId])).toEqual(before)
    expect(await containersOf("gone")).toEqual([])
    const count = d.runtime.containerCount()
    expect(await d.vt.run(next.instanceFor("memory", "agent-a"))).toBe("memory/agent-a")
    expect(d.runtime.containerCount()).toBe(count)
  })

  it("gives each agent a connection of its own to a network server's one container", async () => {
    const mcp = await setUp()
    const network = perAgent({
      ports: [{ containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null }],
      mcp: { transport: "streamable_http", endpointPath: "/mcp", port: 8080, isolation: "per_agent" },
    })
    await d.vt.run(mcp.deploy(network))
    await d.vt.run(callAs(mcp, "agent-a", "remember", { text: "a" }))
    expect(await d.vt.run(callAs(mcp, "agent-b", "recall"))).toBe("")
    expect(await d.vt.run(callAs(mcp, "agent-a", "recall"))).toBe("a")
    expect(d.runtime.containerCount()).toBe(1)
    const view = await d.vt.run(mcp.get("memory"))
    expect(view.instances.map((i) => i.containerId)).toEqual([view.containerId, view.containerId])
    // Its removal leaves the server's container to the server.
    await d.vt.until(async () => (await d.vt.run(mcp.get("memory"))).instances.length === 0, { stepMs: 100, limitMs: 3_000 })
    expect((await d.vt.run(mcp.get("memory"))).healthStatus).toBe("healthy")
    expect(await d.vt.run(callAs(mcp, null, "recall"))).toBe("")
  })
})

describe("a shared MCP server", () => {
  it("serves every agent through its one instance, as before", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(request({ name: "memory", image: "mcp/notes:1" })))
    expect(await d.vt.run(mcp.instanceFor("memory", "agent-a"))).toBe("memory")
    await d.vt.run(callAs(mcp, "agent-a", "remember", { text: "shared" }))
    expect(await d.vt.run(callAs(mcp, "agent-b", "recall"))).toBe("shared")
    expect(d.runtime.containerCount()).toBe(1)
    expect(await d.vt.run(mcp.get("memory"))).toMatchObject({ isolation: "shared", instances: [] })
  })
})
