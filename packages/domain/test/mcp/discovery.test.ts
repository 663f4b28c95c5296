import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { contentHash, discover, listsChangedBy } from "../../src/mcp/discovery.ts"
import { openUpstreamSession } from "../../src/mcp/UpstreamSession.ts"
import { virtualTime } from "@dtma/testing"
import { scriptedChannel } from "./scriptedChannel.ts"

const options = {
  name: "srv",
  clientInfo: { name: "dtma", version: "0.1.0" },
  protocolVersion: "2025-11-25",
  supportedProtocolVersions: ["2025-11-25"],
  initializeTimeoutMs: 1000,
  maxInFlight: 4,
  maxQueued: 16,
}

/** A server with `pages` pages of tools, one prompt, and no resources capability. */
const paginatedServer = (pages: number, toolsPerPage: number, version = "1") =>
  scriptedChannel((request) => {
    if (request.method === "initialize")
      return { protocolVersion: "2025-11-25", capabilities: { tools: { listChanged: true }, prompts: {} }, serverInfo: { name: "p", version } }
    if (request.method === "tools/list") {
      const page = Number(request.params?.["cursor"] ?? 0)
      const tools = Array.from({ length: toolsPerPage }, (_, i) => ({ name: `tool-${page}-${i}`, inputSchema: { type: "object" } }))
      return page + 1 < pages ? { tools, nextCursor: String(page + 1) } : { tools }
    }
    if (request.method === "prompts/list") return { prompts: [{ name: "greet" }] }
    return { error: { code: -32601, message: `unexpected ${request.method}` } }
  })

const vt = virtualTime()
afterAll(() => vt.close())
const open = (channel: ReturnType<typeof scriptedChannel>) => vt.run(openUpstreamSession(channel, options))

describe("discovery", () => {
  it("fetches every page of every list the server advertises, and nothing it does not", async () => {
    const channel = paginatedServer(3, 4)
    const session = await open(channel)
    const snapshot = await vt.run(discover(session, { timeoutMs: 1000, now: "2026-11-24T00:00:00.000Z" }))
    expect(snapshot.tools.map((t) => t["name"])).toHaveLength(12)
    expect(snapshot.tools.at(-1)).toEqual({ name: "tool-2-3", inputSchema: { type: "object" } })
    expect(snapshot.prompts).toEqual([{ name: "greet" }])
    expect(snapshot).toMatchObject({
      resources: [],
      resourceTemplates: [],
      protocolVersion: "2025-11-25",
      serverInfo: { name: "p", version: "1" },
      fetchedAt: "2026-11-24T00:00:00.000Z",
    })
    expect(channel.received.filter((m) => "method" in m && m.method.startsWith("resources"))).toEqual([])
  })

  it("hashes equal offers alike and different offers differently", async () => {
    const a = await vt.run(discover(await open(paginatedServer(2, 2)), { timeoutMs: 1000, now: "t1" }))
    const b = await vt.run(discover(await open(paginatedServer(2, 2)), { timeoutMs: 1000, now: "t2" }))
    const c = await vt.run(discover(await open(paginatedServer(2, 3)), { timeoutMs: 1000, now: "t1" }))
    expect(a.hash).toBe(b.hash)
    expect(a.hash).not.toBe(c.hash)
  })

  it("refreshes only the lists a list_changed names, keeping the others", async () => {
    const session = await open(paginatedServer(1, 2))
    const first = await vt.run(discover(session, { timeoutMs: 1000, now: "t1" }))
    const refreshed = await vt.run(discover(session, { timeoutMs: 1000, now: "t2", previous: first, only: listsChangedBy("notifications/tools/list_changed") }))
    expect(refreshed).toEqual({ ...first, fetchedAt: "t2" })
    expect(listsChangedBy("notifications/resources/list_changed")).toEqual(["resources", "resourceTemplates"])
    expect(listsChangedBy("notifications/message")).toEqual([])
  })

  it("ignores key order when hashing", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse())
        expect(contentHash(reversed)).toBe(contentHash(object))
      }),
    )
  })
})
