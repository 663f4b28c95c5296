import { Effect, Redacted } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { publicKeySetOf } from "../../src/routes/agentAccessHandlers.ts"
import { mcpBody, startTestApp, TEST_ACCESS, type TestApp } from "../support/support.ts"

let app: TestApp
afterEach(() => app.close())

const start = async (): Promise<void> => {
  app = await startTestApp()
  expect((await app.json("POST", "/mcp-servers", mcpBody())).status).toBe(201)
}

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
}

/** An `initialize` on the server's MCP endpoint with this bearer token. */
const initialize = (token: string, server = "mcp-a") =>
  fetch(`${app.base}/mcp-servers/${server}/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify(INIT),
  })

interface Issued {
  readonly token: string
  readonly tokenId: string
  readonly expiresAt: string
}

const issue = async (body: unknown = { agentId: "agent-1", grants: [{ server: "mcp-a" }] }): Promise<Issued> => {
  const res = await app.json("POST", "/agent-tokens", body)
  expect(res.status).toBe(201)
  return ((await res.json()) as { data: Issued }).data
}

const refusalOf = async (res: Response) => {
  const challenge = res.headers.get("www-authenticate") ?? ""
  return { status: res.status, challenge, body: (await res.json()) as { error: { message: string; data: { error: string } } } }
}

describe("POST /agent-tokens", () => {
  it("answers 201 with a token that opens an MCP session, its id and its expiry 900 s on by default, never to be cached", async () => {
    await start()
    const res = await app.json("POST", "/agent-tokens", { agentId: "agent-1", grants: [{ server: "mcp-a", tools: ["echo"] }] })
    expect(res.status).toBe(201)
    expect(res.headers.get("cache-control")).toBe("no-store")
    const body = (await res.json()) as { success: boolean; data: Issued }
    expect(body).toEqual({ success: true, data: { token: expect.any(String), tokenId: expect.any(String), expiresAt: expect.any(String) } })
    const lifetime = Date.parse(body.data.expiresAt) - Date.now()
    expect(lifetime).toBeGreaterThan(898_000)
    expect(lifetime).toBeLessThanOrEqual(900_000)
    expect((await initialize(body.data.token)).status).toBe(200)
    const identity = await Effect.runPromise(app.agentAccess.tokens.verify(Redacted.make(body.data.token)))
    expect(identity).toMatchObject({ sub: "agent-1", jti: body.data.tokenId, grants: [{ target: { server: "mcp-a" }, tools: ["echo"] }] })
  })

  it("signs the lifetime asked for, up to the issuer's maximum, and refuses one past it naming the bound", async () => {
    await start()
    const { expiresAt } = await issue({ agentId: "agent-1", grants: [], ttlSeconds: 60 })
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(60_000)
    const res = await app.json("POST", "/agent-tokens", { agentId: "agent-1", grants: [], ttlSeconds: 86_401 })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      success: false,
      error: "Invalid ttlSeconds: must be a whole number of seconds from 1 to 86400",
      code: "invalid_request",
    })
  })

  it("answers every bad body with a 400 naming the field and what is wrong", async () => {
    await start()
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{}, "Invalid agentId: is required"],
      [{ agentId: "a".repeat(129), grants: [] }, "Invalid agentId: must be 1 to 128 characters"],
      [{ agentId: "a" }, "Invalid grants: is required"],
      [{ agentId: "a", grants: [{ server: "x", tool: ["a"] }] }, "Invalid grants[0].tool: is not supported"],
      [{ agentId: "a", grants: [{ server: "x" }, { server: "x" }] }, "Invalid grants[1]: names server 'x' again"],
      [{ agentId: "a", grants: [{ server: "x", tools: ["a*b"] }] }, "Invalid grants[0].tools[0]: may hold '*' only as its last character"],
      [{ agentId: "a", grants: [], ttlSeconds: 2.5 }, "Invalid ttlSeconds: must be a whole number of seconds"],
      [{ agentId: "a", grants: [], admin: true }, "Invalid admin: is not supported: the keys taken here are agentId, grants, ttlSeconds"],
      [[], "Invalid body: Invalid input: expected object"],
    ]
    for (const [body, error] of cases) {
      const res = await app.json("POST", "/agent-tokens", body)
      expect([error, res.status]).toEqual([error, 400])
      expect(await res.json()).toEqual({ success: false, error: expect.stringContaining(error), code: "invalid_request" })
    }
  })

  it("puts the token in its answer only: no log line carries it", async () => {
    await start()
    const { token, tokenId } = await issue()
    expect((await initialize(token)).status).toBe(200)
    await app.api(`/agent-tokens/${tokenId}`, { method: "DELETE" })
    expect(app.logs.length).toBeGreaterThan(0)
    expect(app.logs.filter((line) => line.includes(token))).toEqual([])
  })
})

describe("GET /.well-known/jwks.json", () => {
  it("is public and publishes the built-in issuer's keys", async () => {
    await start()
    const res = await fetch(`${app.base}/.well-known/jwks.json`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual(await Effect.runPromise(app.agentAccess.issuer.jwks()))
  })

  it("never publishes a private or symmetric key member, whatever the key set holds", () => {
    const key = { kid: "k", kty: "RSA", n: "n", e: "AQAB", d: "d", p: "p", q: "q", dp: "dp", dq: "dq", qi: "qi", oth: [], k: "k" }
    expect(publicKeySetOf({ keys: [key] })).toEqual({ keys: [{ kid: "k", kty: "RSA", n: "n", e: "AQAB" }] })
  })
})

describe("POST /agent-tokens/keys/rotate", () => {
  it("answers the new key's id; a token signed before still opens sessions, and both keys are published", async () => {
    await start()
    const before = await issue()
    const res = await app.api("/agent-tokens/keys/rotate", { method: "POST" })
    expect(res.status).toBe(200)
    const { data } = (await res.json()) as { data: { kid: string } }
    expect(data.kid).toBe("fake-key-2")
    const after = await issue()
    expect(app.agentAccess.tokens.kidOf(after.token)).toBe("fake-key-2")
    expect(app.agentAccess.tokens.kidOf(before.token)).toBe("fake-key-1")
    expect((await initialize(before.token)).status).toBe(200)
    expect((await initialize(after.token)).status).toBe(200)
    const jwks = (await (await fetch(`${app.base}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual(["fake-key-1", "fake-key-2"])
  })

  it("answers 503 when the new key cannot be kept, and the current key goes on signing", async () => {
    await start()
    app.agentAccess.issuer.failNextRotation()
    const res = await app.api("/agent-tokens/keys/rotate", { method: "POST" })
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({
      success: false,
      message: "Failed to rotate the agent token signing key.",
      error: "The agent token signing keys could not be kept (unwritable): injected failure",
      code: "signing_keys_failed",
    })
    expect(app.agentAccess.tokens.kidOf((await issue()).token)).toBe("fake-key-1")
  })
})

describe("revocation", () => {
  it("of an agent answers what was revoked, and that agent's tokens get 401 invalid_token (revoked) on the MCP endpoint; others' do not", async () => {
    await start()
    const first = await issue()
    const second = await issue()
    const other = await issue({ agentId: "agent-2", grants: [{ server: "mcp-a" }] })
    const res = await app.api("/agents/agent-1/revoke", { method: "POST" })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { data: { revokedAt: string } }
    expect(body).toEqual({
      success: true,
      message: "Agent 'agent-1' revoked: its tokens issued up to now are refused.",
      data: { kind: "agent", agentId: "agent-1", revokedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    })
    for (const token of [first.token, second.token]) {
      const refusal = await refusalOf(await initialize(token))
      expect(refusal.status).toBe(401)
      expect(refusal.challenge).toContain('error="invalid_token"')
      expect(refusal.body.error.message).toContain("(revoked)")
    }
    expect((await initialize(other.token)).status).toBe(200)
  })

  it("of one token answers what was revoked, and only that token gets 401 invalid_token (revoked)", async () => {
    await start()
    const revoked = await issue()
    const kept = await issue()
    const res = await app.api(`/agent-tokens/${encodeURIComponent(revoked.tokenId)}`, { method: "DELETE" })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      success: true,
      message: `Agent token '${revoked.tokenId}' revoked.`,
      data: { kind: "token", tokenId: revoked.tokenId, revokedAt: expect.any(String) },
    })
    const refusal = await refusalOf(await initialize(revoked.token))
    expect([refusal.status, refusal.body.error.data.error]).toEqual([401, "invalid_token"])
    expect(refusal.body.error.message).toContain("(revoked)")
    expect((await initialize(kept.token)).status).toBe(200)
  })

  it("answers an id no token can carry with a 400 naming it, and revokes nothing", async () => {
    await start()
    const token = (await issue()).token
    const agent = await app.api(`/agents/${"a".repeat(129)}/revoke`, { method: "POST" })
    expect(agent.status).toBe(400)
    expect(await agent.json()).toEqual({ success: false, error: "Invalid agentId: must be 1 to 128 characters", code: "invalid_request" })
    const one = await app.api(`/agent-tokens/${"t".repeat(257)}`, { method: "DELETE" })
    expect(one.status).toBe(400)
    expect(await one.json()).toEqual({ success: false, error: "Invalid tokenId: must be 1 to 256 characters", code: "invalid_request" })
    expect(app.agentAccess.revocationStore.saves).toEqual([])
    expect((await initialize(token)).status).toBe(200)
  })

  it("answers 503 when the revocation cannot be kept, and refuses the agent's tokens all the same", async () => {
    await start()
    const token = (await issue()).token
    app.agentAccess.revocationStore.failNextSave()
    const res = await app.api("/agents/agent-1/revoke", { method: "POST" })
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({
      success: false,
      message: "Failed to revoke agent 'agent-1'.",
      error: expect.stringContaining("The revocation holds until the DTMA restarts"),
      code: "revocation_not_kept",
    })
    expect((await initialize(token)).status).toBe(401)
  })
})

interface Metadata {
  readonly resource: string
  readonly authorization_servers: ReadonlyArray<string>
  readonly bearer_methods_supported: ReadonlyArray<string>
  readonly scopes_supported: ReadonlyArray<string>
  readonly resource_name: string
}

const metadataAt = async (path: string): Promise<Metadata> => {
  const res = await fetch(`${app.base}${path}`)
  expect([path, res.status]).toEqual([path, 200])
  expect(res.headers.get("content-type")).toMatch(/^application\/json/)
  return (await res.json()) as Metadata
}

describe("the protected-resource metadata (RFC 9728)", () => {
  it("is public on GET and HEAD, names the DTMA's resource, its issuers, header bearer tokens, and no server at the root", async () => {
    await start()
    const expected = {
      resource: TEST_ACCESS.resourceUrl,
      authorization_servers: app.agentAccess.access.issuers,
      bearer_methods_supported: ["header"],
      scopes_supported: [],
    }
    expect(await metadataAt("/.well-known/oauth-protected-resource")).toEqual({ ...expected, resource_name: "DTMA (Droplet Tool Management Agent)" })
    expect(await metadataAt("/.well-known/oauth-protected-resource/mcp")).toEqual({ ...expected, resource_name: "DTMA agent endpoint (/mcp)" })
    for (const path of [
      "/.well-known/oauth-protected-resource",
      "/.well-known/oauth-protected-resource/mcp",
      "/.well-known/oauth-protected-resource/mcp-servers/mcp-a/mcp",
    ]) {
      const head = await fetch(`${app.base}${path}`, { method: "HEAD" })
      expect([path, head.status]).toEqual([path, 200])
    }
  })

  it("gives a server's endpoint its dtma:server scope, percent-encoded, and the same document whether the server is deployed or not", async () => {
    await start()
    const deployed = await metadataAt("/.well-known/oauth-protected-resource/mcp-servers/mcp-a/mcp")
    expect(deployed).toEqual({
      resource: TEST_ACCESS.resourceUrl,
      authorization_servers: app.agentAccess.access.issuers,
      bearer_methods_supported: ["header"],
      scopes_supported: ["dtma:server:mcp-a"],
      resource_name: "DTMA MCP server 'mcp-a'",
    })
    const absent = await metadataAt("/.well-known/oauth-protected-resource/mcp-servers/mcp-b/mcp")
    expect(JSON.stringify(absent)).toBe(JSON.stringify(deployed).replaceAll("mcp-a", "mcp-b"))
    const spaced = await metadataAt("/.well-known/oauth-protected-resource/mcp-servers/web%20search/mcp")
    expect(spaced.scopes_supported).toEqual(["dtma:server:web%20search"])
    const long = await fetch(`${app.base}/.well-known/oauth-protected-resource/mcp-servers/${"s".repeat(201)}/mcp`)
    expect(long.status).toBe(400)
    expect(await long.json()).toEqual({ success: false, error: "Invalid name: must be at most 200 characters", code: "invalid_request" })
  })

  it("is served at the URL a real 401 challenge on the MCP endpoint names", async () => {
    await start()
    for (const headers of [{}, { authorization: `Bearer ${app.agentAccess.tokens.refusing("expired")}` }]) {
      const res = await fetch(`${app.base}/mcp-servers/mcp-a/mcp`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: "{}" })
      expect(res.status).toBe(401)
      const url = /resource_metadata="([^"]+)"/.exec(res.headers.get("www-authenticate") ?? "")?.[1]
      expect(url).toBe(`${TEST_ACCESS.resourceUrl}/.well-known/oauth-protected-resource/mcp-servers/mcp-a/mcp`)
      // The configured resource URL names port 30000; this app listens elsewhere: the path is what it serves.
      expect((await metadataAt(new URL(url!).pathname)).scopes_supported).toEqual(["dtma:server:mcp-a"])
    }
  })
})
