import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { notesMcpServer } from "@dtma/testing"
import { wipeLeftoverCredentials, type McpServersSettings, type OAuthBinding } from "../../src/index.ts"
import { droplet, request } from "./mcpDroplet.ts"
import { testSupervision } from "./testSupervision.ts"

let d: ReturnType<typeof droplet>
afterEach(async () => {
  await d.vt.close()
})

const IDLE_MS = 1_000

const setUp = (settings: Partial<McpServersSettings> = {}) => {
  d = droplet({
    servers: { "mcp/notes:1": notesMcpServer },
    settings: testSupervision({ isolatedIdleMs: IDLE_MS, isolatedMax: 3, ...settings }),
    credentials: true,
  })
  return d.start()
}

const GITHUB: OAuthBinding = {
  agentId: "agent-owner",
  connectionIds: ["gh"],
  requiredScopes: [],
  method: "mounted_secrets",
  refreshStrategy: "on_expiry",
  refreshIntervalSeconds: null,
}

const perAgent = (oauth: OAuthBinding | null = null) =>
  request({ name: "memory", image: "mcp/notes:1", mcp: { transport: "stdio", endpointPath: null, port: null, isolation: "per_agent" }, oauth })

const containersOf = async (server: string) => (await d.vt.run(d.instances.listIsolated())).filter((c) => c.isolatedFor?.server === server)

describe("a per_agent MCP server's instances, against faults", () => {
  it("gives each agent's instance its server's tokens under its own name, wipes them when it is reaped, keeps an adopted one's at start-up", async () => {
    const first = await setUp()
    await d.vt.run(first.mcp.deploy(perAgent(GITHUB)))
    await d.vt.run(first.mcp.instanceFor("memory", "agent-a"))
    expect(d.delivery.deliveredTo("memory/agent-a")?.credentials.map((c) => c.connectionId)).toEqual(["gh"])
    // A restart: the next DTMA adopts the instance and wipes what belongs to no server it supervises.
    await first.stop()
    const next = (await d.start()).mcp
    await d.vt.run(next.adopt())
    // The adopted instance's tokens are fetched and delivered again before the start-up's wipe (a quick backend).
    await d.vt.until(() => Promise.resolve(d.delivery.calls.filter((c) => c.name === "memory/agent-a").length === 2), { stepMs: 10, limitMs: IDLE_MS / 4 })
    await d.vt.run(wipeLeftoverCredentials(d.delivery, (name) => next.supervises(name)))
    expect(d.delivery.deliveredTo("memory/agent-a")?.credentials.map((c) => c.connectionId)).toEqual(["gh"])
    await d.vt.until(async () => (await containersOf("memory")).length === 0, { stepMs: 100, limitMs: 5_000 })
    expect(d.delivery.deliveredTo("memory/agent-a")).toBeUndefined()
  })

  it("removes a reaped instance's container and credentials once the runtime answers again, and serves the agent's next call", async () => {
    const { mcp } = await setUp()
    await d.vt.run(mcp.deploy(perAgent(GITHUB)))
    await d.vt.run(mcp.instanceFor("memory", "agent-a"))
    d.runtime.daemonDown = true
    await d.vt.until(async () => (await d.vt.run(mcp.get("memory"))).instances.length === 0, { stepMs: 100, limitMs: 5_000 })
    d.runtime.daemonDown = false
    await d.vt.until(async () => (await containersOf("memory")).length === 0, { stepMs: 100, limitMs: 5_000 })
    expect(d.delivery.deliveredTo("memory/agent-a")).toBeUndefined()
    expect(await d.vt.run(mcp.instanceFor("memory", "agent-a"))).toBe("memory/agent-a")
    expect(await containersOf("memory")).toHaveLength(1)
  })

  it("counts an instance whose removal failed against the server's most until its container is gone", async () => {
    const { mcp } = await setUp({ isolatedMax: 1 })
    await d.vt.run(mcp.deploy(perAgent()))
    await d.vt.run(mcp.instanceFor("memory", "agent-a"))
    d.runtime.daemonDown = true
    await d.vt.until(async () => (await d.vt.run(mcp.get("memory"))).instances.length === 0, { stepMs: 100, limitMs: 5_000 })
    d.runtime.daemonDown = false
    const made = await d.vt.run(Effect.exit(mcp.instanceFor("memory", "agent-b")))
    // Never two containers for a server held to one.
    expect((await containersOf("memory")).length).toBeLessThanOrEqual(1)
    if (made._tag === "Failure") expect(JSON.stringify(made.cause)).toContain("IsolatedInstanceLimit")
    await d.vt.until(async () => (await containersOf("memory")).every((c) => c.isolatedFor?.agent === "agent-b"), { stepMs: 100, limitMs: 5_000 })
    expect(await d.vt.run(mcp.instanceFor("memory", "agent-b"))).toBe("memory/agent-b")
  })
})
