import http from "node:http"
import { Effect } from "effect"
import type { Grants } from "@dtma/domain"
import { afterEach, describe, expect, it } from "vitest"
import { ROUTES } from "../../src/routes/routeTable.ts"
import { mcpBody, startTestApp, TEST_ACCESS, TOKEN, type TestApp } from "../support/support.ts"

let app: TestApp
afterEach(() => app.close())

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
}
const ALL_OF_A: Grants = [{ target: { server: "mcp-a" }, tools: ["*"], prompts: ["*"], resources: true }]

const start = async (access: Partial<typeof TEST_ACCESS> = {}): Promise<void> => {
  app = await startTestApp({ config: { access: { ...TEST_ACCESS, ...access } } })
  expect((await app.json("POST", "/mcp-servers", mcpBody())).status).toBe(201)
}

const mint = (grants: Grants = ALL_OF_A, ttlSeconds = 900): Promise<string> =>
  Effect.runPromise(app.agentAccess.tokens.mint({ sub: "agent-1", grants, ttlSeconds }))

const post = (headers: Record<string, string>, body: unknown = INIT, path = "/mcp-servers/mcp-a/mcp") =>
  fetch(`${app.base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify(body),
  })

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe("agent tokens at the edge", () => {
  it("let an agent open a session on the MCP endpoint", async () => {
    await start()
    const res = await post(bearer(await mint()))
    expect(res.status).toBe(200)
    expect(res.headers.get("mcp-session-id")).toBeTruthy()
  })

  it("are refused on every management route with 403 agent_token_not_allowed, and nothing is done", async () => {
    await start()
    const token = await mint()
    for (const route of ROUTES.filter((r) => !r.public)) {
      const path = route.path.replace(":name", "mcp-a").replace(":groupId", "g")
      const res = await fetch(`${app.base}${path}`, {
        method: route.method,
        headers: { ...bearer(token), "content-type": "application/json" },
        ...(route.method === "POST" ? { body: JSON.stringify(mcpBody({ instanceNameOnToolbox: "other" })) } : {}),
      })
      expect([route.path, res.status]).toEqual([route.path, 403])
      expect(await res.json()).toMatchObject({ success: false, code: "agent_token_not_allowed" })
    }
    expect(app.runtime.containerCount()).toBe(1)
  })

  it("answer an expired, revoked, tampered or foreign token with 401 invalid_token and its reason", async () => {
    await start()
    const expired = await mint(ALL_OF_A, -60)
    const revoked = await mint()
    await Effect.runPromise(app.agentAccess.access.revokeAgent("agent-1"))
    const cases: ReadonlyArray<readonly [string, string]> = [
      [expired, "expired"],
      [revoked, "revoked"],
      [app.agentAccess.tokens.refusing("bad_signature"), "bad_signature"],
      [app.agentAccess.tokens.refusing("wrong_audience"), "wrong_audience"],
      [app.agentAccess.tokens.refusing("wrong_issuer"), "wrong_issuer"],
    ]
    for (const [token, reason] of cases) {
      const res = await post(bearer(token))
      expect([reason, res.status]).toEqual([reason, 401])
      expect(res.headers.get("www-authenticate")).toContain(`error="invalid_token", error_description="The access token is refused (${reason})`)
      const body = (await res.json()) as { error: { message: string; data: unknown } }
      expect(body).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32010, data: { error: "invalid_token" } } })
      expect(body.error.message).toContain(reason)
    }
  })

  it("refuse a token accepted before, answered from memory since, on its first request after its agent is revoked", async () => {
    await start()
    const token = await mint()
    expect((await post(bearer(token))).status).toBe(200)
    expect((await post(bearer(token))).status).toBe(200)
    await Effect.runPromise(app.agentAccess.access.revokeAgent("agent-1"))
    const res = await post(bearer(token))
    expect(res.status).toBe(401)
    expect(res.headers.get("www-authenticate")).toContain("The access token is refused (revoked)")
  })

  it("are told apart on one connection: each request is its own token's, and a revocation holds on the connection that used it", async () => {
    await start()
    const connection = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const onConnection = (token: string) =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = http.request(`${app.base}/mcp-servers/mcp-a/mcp`, {
          method: "POST",
          agent: connection,
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...bearer(token) },
        })
        req.on("response", (res) => {
          res.resume()
          res.on("end", () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }))
        })
        req.on("error", reject)
        req.end(JSON.stringify(INIT))
      })
    try {
      const first = await mint()
      const other = await Effect.runPromise(
        app.agentAccess.tokens.mint({ sub: "agent-2", grants: [{ target: { server: "mcp-b" }, tools: ["*"], prompts: ["*"], resources: true }] }),
      )
      expect(await onConnection(first)).toEqual({ status: 200, reused: false })
      expect(await onConnection(other)).toEqual({ status: 403, reused: true })
      expect(await onConnection(first)).toEqual({ status: 200, reused: true })
      await Effect.runPromise(app.agentAccess.access.revokeAgent("agent-1"))
      expect(await onConnection(first)).toEqual({ status: 401, reused: true })
    } finally {
      connection.destroy()
    }
  })

  it("answer 503 with Retry-After when the token's issuer keys cannot be fetched: the token may be fine", async () => {
    await start()
    const res = await post(bearer(app.agentAccess.tokens.refusing("keys_unavailable")))
    expect(res.status).toBe(503)
    expect(res.headers.get("retry-after")).toBe("5")
    expect(await res.json()).toMatchObject({ id: null, error: { code: -32013, data: { error: "temporarily_unavailable" } } })
  })

  it("leave the operator key working on the MCP endpoint", async () => {
    await start()
    expect((await post(bearer(TOKEN))).status).toBe(200)
  })
})

describe("the Origin and Host checks on the MCP endpoints", () => {
  it("refuse a foreign Origin with a JSON-RPC 403, before any token is looked at", async () => {
    await start()
    for (const headers of [{ origin: "http://evil.example.com" }, { origin: "null" }, { origin: "http://evil.example.com", ...bearer(TOKEN) }]) {
      const res = await post(headers)
      expect(res.status).toBe(403)
      expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32011, data: { error: "forbidden_origin" } } })
    }
  })

  it("let through no Origin, an allowed one, and the DTMA's own loopback origin", async () => {
    await start({ allowedOrigins: ["https://app.example.com"] })
    const port = new URL(app.base).port
    for (const origin of [undefined, "https://app.example.com", `http://127.0.0.1:${port}`]) {
      const res = await post({ ...bearer(TOKEN), ...(origin === undefined ? {} : { origin }) })
      expect([origin, res.status]).toEqual([origin, 200])
    }
  })

  it("refuse on loopback a Host that is not a loopback name nor the public host (DNS rebinding), and accept the public host", async () => {
    await start({ publicHost: "toolbox-7.example.net" })
    const port = new URL(app.base).port
    // fetch sets Host itself, so these go through node:http.
    const { request } = await import("node:http")
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port,
            path: "/mcp-servers/mcp-a/mcp",
            method: "POST",
            headers: { host, ...bearer(TOKEN), "content-type": "application/json", accept: "application/json, text/event-stream" },
          },
          (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          },
        )
        req.on("error", reject)
        req.end(JSON.stringify(INIT))
      })
    expect(await status("evil.example.com")).toBe(403)
    expect(await status(`evil.example.com:${port}`)).toBe(403)
    expect(await status(`localhost:${port}`)).toBe(200)
    expect(await status(`toolbox-7.example.net:${port}`)).toBe(200)
    // Management routes are not MCP endpoints: legacy callers are unaffected.
    const tools = await new Promise<number>((resolve) =>
      request({ host: "127.0.0.1", port, path: "/tools/status", headers: { host: "evil.example.com", ...bearer(TOKEN) } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      }).end(),
    )
    expect(tools).toBe(200)
  })
})

describe("the MCP endpoint spelled in other letter cases", () => {
  it("is the MCP endpoint all the same, as the router serves it: JSON-RPC refusals, its Origin check, agents within their grants, its audit", async () => {
    await start()
    // The router matches paths case-insensitively: this path is mcp-a's MCP endpoint.
    const path = "/MCP-Servers/mcp-a/Mcp"
    const before = app.auditLog.records.length
    const anonymous = await post({}, INIT, path)
    expect(anonymous.status).toBe(401)
    expect(await anonymous.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { data: { error: "unauthorized" } } })
    const metadata = `/.well-known/oauth-protected-resource${path}`
    expect(anonymous.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${TEST_ACCESS.resourceUrl}${metadata}"`)
    // What the challenge names, a client without a token can read.
    expect((await fetch(`${app.base}${metadata}`)).status).toBe(200)
    expect((await post(bearer(await mint()), INIT, path)).status).toBe(200)
    const foreign = await post({ ...bearer(TOKEN), origin: "http://evil.example.com" }, INIT, path)
    expect(foreign.status).toBe(403)
    expect(await foreign.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { data: { error: "forbidden_origin" } } })

    await expect.poll(() => app.auditLog.records.length).toBe(before + 3)
    expect(app.auditLog.records.slice(before).map((r) => [r.route, r.server, r.caller.kind, r.method, r.outcome, r.errorCode])).toEqual([
      ["/mcp-servers/:name/mcp", "mcp-a", "anonymous", "POST", "denied", "unauthorized"],
      ["/mcp-servers/:name/mcp", "mcp-a", "agent", "initialize", "ok", null],
      ["/mcp-servers/:name/mcp", "mcp-a", "anonymous", "POST", "denied", "forbidden_origin"],
    ])
  })
})

describe("the per-agent rate limit", () => {
  it("answers 429 with Retry-After and a JSON-RPC error over the burst, per agent, counted in /metrics; operators are not limited", async () => {
    await start({ ratePerSecond: 0.5, burst: 3 })
    const first = await mint()
    const second = await Effect.runPromise(app.agentAccess.tokens.mint({ sub: "agent-2", grants: ALL_OF_A }))
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await post(bearer(first))).status)
    expect(statuses).toEqual([200, 200, 200, 429])
    const refused = await post(bearer(first))
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
    expect(await refused.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32012, data: { error: "rate_limited" } } })
    expect((await post(bearer(second))).status).toBe(200)
    for (let i = 0; i < 5; i++) expect((await post(bearer(TOKEN))).status).toBe(200)
    const metrics = await (await app.api("/metrics")).text()
    expect(metrics).toMatch(/^dtma_agent_requests_rate_limited_total 2$/m)
  })

  it("charges a batch for each message it carries", async () => {
    await start({ ratePerSecond: 0.5, burst: 3 })
    const token = await mint()
    const ping = (id: number) => ({ jsonrpc: "2.0", id, method: "ping" })
    expect((await post(bearer(token), [ping(1), ping(2), ping(3)])).status).not.toBe(429)
    expect((await post(bearer(token), ping(4))).status).toBe(429)
  })

  it("charges a 2026-07-28 listen one more for each resource it subscribes to, and refuses one asking too many with 400, not 429", async () => {
    await start({ ratePerSecond: 0.5, burst: 3 })
    const token = await mint()
    const listen = (uris: ReadonlyArray<string>, signal?: AbortSignal) =>
      fetch(`${app.base}/mcp-servers/mcp-a/mcp`, {
        method: "POST",
        ...(signal === undefined ? {} : { signal }),
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "subscriptions/listen",
          ...bearer(token),
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "subscriptions/listen",
          params: {
            notifications: { resourceSubscriptions: uris },
            _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} },
          },
        }),
      })
    const tooMany = await listen(Array.from({ length: 101 }, (_, i) => `test://r${i}`))
    expect(tooMany.status).toBe(400)
    expect(await tooMany.json()).toMatchObject({ error: { code: -32602 } })
    const abort = new AbortController()
    expect((await listen(["test://a"], abort.signal)).status).toBe(200)
    abort.abort()
    expect((await post(bearer(token), { jsonrpc: "2.0", id: 2, method: "ping" })).status).toBe(429)
  })
})
