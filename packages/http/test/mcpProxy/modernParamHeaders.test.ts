import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client"
import { afterEach, describe, expect, it } from "vitest"
import { ALL, answerOf, ask, ECHO_ONLY, MODERN, openSession, startGrantsApp, type GrantsApp } from "../support/grantsSupport.ts"
import { mcpHeaders } from "../support/mcpProxySupport.ts"
import { TOKEN } from "../support/support.ts"

// A 2026-07-28 `tools/call` of a tool whose arguments carry `x-mcp-header` annotations, on a running
// DTMA: its `Mcp-Param-{Name}` headers are checked against its arguments on both endpoints (400 with
// -32020 when they disagree, before anything reaches the server), and a tool whose annotations are
// invalid is listed to no 2026-07-28 client (streamable-http.mdx, "Custom Headers from Tool Parameters").

let app: GrantsApp
const clients: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined)
  await app.close()
})

/** A modern `tools/call` of `name` with `args`, and the headers given (the standard ones always right). */
const call = (name: string, args: Record<string, unknown>, params: Record<string, string> = {}) => ({
  headers: { ...mcpHeaders(), "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": name, ...params },
  body: {
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: {
      name,
      arguments: args,
      _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} },
    },
  },
})

const modernList = (cursor?: string) => ({
  headers: { ...mcpHeaders(), "mcp-protocol-version": MODERN, "mcp-method": "tools/list" },
  body: {
    jsonrpc: "2.0",
    id: 1,
    method: "tools/list",
    params: {
      ...(cursor === undefined ? {} : { cursor }),
      _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} },
    },
  },
})

const post = (url: string, request: { headers: Record<string, string>; body: unknown }, token: string) =>
  fetch(url, { method: "POST", headers: { ...request.headers, authorization: `Bearer ${token}` }, body: JSON.stringify(request.body) })

/** The two endpoints, each with its caller and what it lists the tool `locate` as. */
const endpoints = async () =>
  [
    { where: "the server's endpoint", url: app.endpoint("fixture"), token: TOKEN, prefix: "" },
    { where: "/mcp", url: `${app.base}/mcp`, token: await app.mint(ALL), prefix: "fixture__" },
  ] as const

const calledLocate = () => app.probe.seen.filter((s) => s.method === "tools/call" && s.params?.["name"] === "locate")

/** Every tool name a list request lists, page after page. */
const allTools = async (url: string, token: string, page: (cursor?: string) => Promise<Record<string, unknown>>) => {
  const names: Array<string> = []
  let cursor: string | undefined
  do {
    const result = (await page(cursor))["result"] as { tools: Array<{ name: string }>; nextCursor?: string }
    names.push(...result.tools.map((t) => t.name))
    cursor = result.nextCursor
  } while (cursor !== undefined)
  return names
}

describe("a 2026-07-28 tools/call of a tool with x-mcp-header annotations", () => {
  it("is served on both endpoints when its Mcp-Param headers mirror its arguments (any header case, Base64, an integer as 42.0)", async () => {
    app = await startGrantsApp({ annotatedTools: true })
    for (const { where, url, token, prefix } of await endpoints()) {
      const args = { region: "us-west1", where: { zone: 42 }, query: "q" }
      const res = await post(url, call(`${prefix}locate`, args, { "MCP-PARAM-REGION": "us-west1", "mcp-param-zone": "42" }), token)
      expect([where, res.status]).toEqual([where, 200])
      expect(await answerOf(res)).toMatchObject({ result: { content: [{ text: "us-west1 42" }], resultType: "complete" } })
      const spaced = { region: " Hello, 世界 ", where: { zone: 42 } }
      const encoded = { "mcp-param-region": "=?base64?IEhlbGxvLCDkuJbnlYwg?=", "mcp-param-zone": "42.0" }
      expect(await answerOf(await post(url, call(`${prefix}locate`, spaced, encoded), token))).toMatchObject({
        result: { content: [{ text: " Hello, 世界  42" }] },
      })
      // Absent and null arguments are mirrored by no header; a header no annotation names is not looked at.
      const bare = await post(url, call(`${prefix}locate`, { region: null, query: "q" }, { "mcp-param-other": "x" }), token)
      expect(await answerOf(bare)).toMatchObject({ result: { content: [{ text: "null undefined" }] } })
    }
    expect(calledLocate()).toHaveLength(6)
  })

  it("gets 400 and -32020 on both endpoints for a header missing, different, without argument or badly encoded, naming it, not its value", async () => {
    app = await startGrantsApp({ annotatedTools: true })
    const args = { region: "eu-secret-1", where: { zone: 7 } }
    const cases: ReadonlyArray<{ params: Record<string, string>; says: string }> = [
      { params: { "mcp-param-zone": "7" }, says: "the Mcp-Param-Region header is required" },
      { params: { "mcp-param-region": "us-west1", "mcp-param-zone": "7" }, says: "the Mcp-Param-Region header does not match" },
      { params: { "mcp-param-region": "eu-secret-1", "mcp-param-zone": "8" }, says: "the Mcp-Param-Zone header does not match" },
      { params: { "mcp-param-region": "eu-secret-1" }, says: "the Mcp-Param-Zone header is required" },
      { params: { "mcp-param-region": "=?base64?***?=", "mcp-param-zone": "7" }, says: "the Mcp-Param-Region header is not valid =?base64?…?= encoding" },
    ]
    for (const { where, url, token, prefix } of await endpoints()) {
      for (const { params, says } of cases) {
        const res = await post(url, call(`${prefix}locate`, args, params), token)
        const body = (await res.json()) as { id: unknown; error: { code: number; message: string } }
        expect([where, says, res.status, body.id, body.error.code]).toEqual([where, says, 400, 1, -32020])
        expect(body.error.message).toContain(says)
        expect(body.error.message).not.toContain("secret")
        expect(res.headers.get("mcp-session-id")).toBeNull()
      }
      const unmirrored = await post(url, call(`${prefix}locate`, { query: "q" }, { "mcp-param-region": "us-west1" }), token)
      expect([unmirrored.status, ((await unmirrored.json()) as { error: { message: string } }).error.message]).toEqual([
        400,
        "Header mismatch: the Mcp-Param-Region header was sent, but the body carries no value at arguments.region that it could mirror",
      ])
    }
    expect(calledLocate()).toEqual([])
  })

  it("is checked only within an agent's grants: an ungranted tool's annotations are not told by a refusal", async () => {
    app = await startGrantsApp({ annotatedTools: true })
    const token = await app.mint(ECHO_ONLY)
    const res = await post(app.endpoint("fixture"), call("locate", { region: "us-west1" }), token)
    expect(res.status).toBe(200)
    expect((await answerOf(res))["result"]).toMatchObject({ isError: true, resultType: "complete" })
    expect(calledLocate()).toEqual([])
  })

  it("works with the v2 SDK's client, which mirrors the arguments itself, on both endpoints", async () => {
    app = await startGrantsApp({ annotatedTools: true })
    for (const { url, token, prefix } of await endpoints()) {
      const client = new ModernClient({ name: "modern-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN } } })
      await client.connect(new ModernTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
      clients.push(client)
      const names = (await client.listTools()).tools.map((t) => t.name)
      expect(names).toContain(`${prefix}locate`)
      const result = await client.callTool({ name: `${prefix}locate`, arguments: { region: "ap-south-2", where: { zone: -3 } } })
      expect(result).toMatchObject({ content: [{ text: "ap-south-2 -3" }] })
    }
  })
})

describe("a tool whose x-mcp-header annotations are invalid", () => {
  it("is listed to 2025-era clients as the server lists it, and to no 2026-07-28 client, on both endpoints", async () => {
    app = await startGrantsApp({ annotatedTools: true })
    for (const { where, url, token, prefix } of await endpoints()) {
      const modern = await allTools(url, token, async (cursor) => answerOf(await post(url, modernList(cursor), token)))
      expect([where, modern.includes(`${prefix}locate`), modern.includes(`${prefix}broken`)]).toEqual([where, true, false])
      const session = await openSession(url, token)
      const legacy = await allTools(url, token, (cursor) => ask(url, session, token, "tools/list", cursor === undefined ? {} : { cursor }))
      expect([where, legacy.includes(`${prefix}locate`), legacy.includes(`${prefix}broken`)]).toEqual([where, true, true])
    }
  })
})
