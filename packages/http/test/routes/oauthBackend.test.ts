import { createPublicKey, verify } from "node:crypto"
import { Redacted } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { makeAgentopiaCredentialSource } from "@dtma/adapters"
import { credentialSourceContract } from "@dtma/testing"
import { startOAuthBackend, type OAuthBackend, type OAuthBackendOptions } from "../support/oauthBackend.ts"

const connections = {
  "conn-gh": { provider: "github", scopes: ["repo", "read:org"], lifetimeSeconds: 600 },
  "conn-slack": { provider: "slack", scopes: [], lifetimeSeconds: null },
  "conn-reauth": { provider: "google", state: "reauthorization_required" as const },
  "conn-forbidden": { provider: "notion", state: "forbidden" as const },
}
const secrets = { API_KEY: "k-123", UNSET: null }

const open: Array<OAuthBackend> = []
afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close()
})
const start = async (options: OAuthBackendOptions = {}) => {
  const backend = await startOAuthBackend({ connections, toolSecrets: { "ati-tool": secrets }, ...options })
  open.push(backend)
  return backend
}
const post = (backend: OAuthBackend, path: string, body: unknown, token = backend.token) =>
  fetch(`${backend.url}/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  })
const ask = (backend: OAuthBackend, ids: ReadonlyArray<string>, token?: string) =>
  post(backend, "get-mcp-oauth-credentials", { agentId: "agent-1", accountToolInstanceId: "ati-mcp", oauthConnectionIds: ids, requiredScopes: [] }, token)

credentialSourceContract("AgentopiaCredentialSource over the OAuth backend double", async () => {
  const backend = await startOAuthBackend({ connections, toolSecrets: { "ati-tool": secrets } })
  return {
    source: makeAgentopiaCredentialSource({ baseUrl: backend.url, token: Redacted.make(backend.token), timeoutMs: 2000, retries: 1, retryBaseMs: 5 }),
    agentId: "agent-1",
    accountToolInstanceId: "ati-mcp",
    connections: [
      { connectionId: "conn-gh", provider: "github", scopes: ["repo", "read:org"] },
      { connectionId: "conn-slack", provider: "slack", scopes: [] },
    ],
    unknownConnectionId: "conn-unknown",
    reauthorizeConnectionId: "conn-reauth",
    toolSecrets: { accountToolInstanceId: "ati-tool", secrets },
    cleanup: () => backend.close(),
  }
})

/** Verifies an RS256 JWT against the issuer's published keys; its payload. */
const verifiedPayload = async (backend: OAuthBackend, jwt: string): Promise<Record<string, unknown>> => {
  const [header, payload, signature] = jwt.split(".") as [string, string, string]
  const { kid } = JSON.parse(Buffer.from(header, "base64url").toString()) as { kid: string }
  const { keys } = (await (await fetch(`${backend.issuerUrl}/jwks`)).json()) as { keys: Array<{ kid: string }> }
  const key = createPublicKey({ key: keys.find((k) => k.kid === kid)!, format: "jwk" })
  expect(verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, "base64url"))).toBe(true)
  return JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>
}

describe("the OAuth backend double", () => {
  it("mints JWTs signed by its issuer, expiring after the connection's lifetime, each one different", async () => {
    const backend = await start()
    const before = Math.floor(Date.now() / 1000)
    const body = (await (await ask(backend, ["conn-gh", "conn-gh"])).json()) as { credentials: Array<Record<string, unknown>> }
    const after = Math.ceil(Date.now() / 1000)
    const [first, second] = body.credentials
    expect(first).toMatchObject({ connection_id: "conn-gh", provider: "github", token_type: "Bearer", scopes: ["repo", "read:org"] })
    expect(first!["access_token"]).not.toBe(second!["access_token"])
    const claims = await verifiedPayload(backend, first!["access_token"] as string)
    expect(claims).toMatchObject({ iss: backend.issuerUrl, sub: "conn-gh", scope: "repo read:org" })
    expect(claims["exp"]).toBeGreaterThanOrEqual(before + 600)
    expect(claims["exp"]).toBeLessThanOrEqual(after + 600)
    expect(first!["expires_at"]).toBe(new Date((claims["exp"] as number) * 1000).toISOString())
  })

  it("answers expires_at null, and a JWT without exp, for a token that never expires", async () => {
    const backend = await start()
    const { credentials } = (await (await ask(backend, ["conn-slack"])).json()) as { credentials: Array<Record<string, unknown>> }
    expect(credentials[0]!["expires_at"]).toBeNull()
    expect(await verifiedPayload(backend, credentials[0]!["access_token"] as string)).not.toHaveProperty("exp")
  })

  it("refuses a missing or wrong bearer token with 401", async () => {
    const backend = await start()
    expect((await ask(backend, ["conn-gh"], "wrong")).status).toBe(401)
    const bare = await fetch(`${backend.url}/get-mcp-oauth-credentials`, { method: "POST", body: "{}" })
    expect(bare.status).toBe(401)
    expect(backend.minted).toEqual([])
  })

  it("refuses per connection: 403 forbidden, 404 unknown, 409 reauthorization_required, naming it", async () => {
    const backend = await start()
    const answer = async (ids: Array<string>) => {
      const res = await ask(backend, ids)
      return [res.status, await res.json()]
    }
    expect(await answer(["conn-gh", "conn-forbidden"])).toEqual([403, { error: "forbidden", connection_id: "conn-forbidden" }])
    expect(await answer(["conn-nope"])).toEqual([404, { error: "connection_not_found", connection_id: "conn-nope" }])
    expect(await answer(["conn-reauth"])).toEqual([409, { error: "reauthorization_required", connection_id: "conn-reauth" }])
    backend.setState("conn-gh", "missing")
    expect(await answer(["conn-gh"])).toEqual([404, { error: "connection_not_found", connection_id: "conn-gh" }])
    expect(backend.minted).toEqual([])
  })

  it("fails with a 5xx at its fail rate, with 503 or a reset while down, and answers late with a delay", async () => {
    const backend = await start()
    backend.failRate = 1
    expect((await ask(backend, ["conn-gh"])).status).toBeGreaterThanOrEqual(500)
    backend.failRate = 0
    backend.down = "503"
    expect((await ask(backend, ["conn-gh"])).status).toBe(503)
    backend.down = "reset"
    await expect(ask(backend, ["conn-gh"])).rejects.toThrow("fetch failed")
    backend.down = false
    backend.delayMs = 2000
    await expect(fetch(`${backend.url}/get-mcp-oauth-credentials`, { method: "POST", body: "{}", signal: AbortSignal.timeout(100) })).rejects.toMatchObject({
      name: "TimeoutError",
    })
    backend.delayMs = 0
    expect((await ask(backend, ["conn-gh"])).status).toBe(200)
  })

  it("delays the answer to a request naming a slow connection, and only that one", async () => {
    const backend = await start()
    backend.connections.set("conn-slow", { provider: "github", delayMs: 2000 })
    const slow = fetch(`${backend.url}/get-mcp-oauth-credentials`, {
      method: "POST",
      headers: { authorization: `Bearer ${backend.token}`, "content-type": "application/json" },
      body: JSON.stringify({ oauthConnectionIds: ["conn-gh", "conn-slow"] }),
      signal: AbortSignal.timeout(200),
    })
    await expect(slow).rejects.toMatchObject({ name: "TimeoutError" })
    expect((await ask(backend, ["conn-gh"])).status).toBe(200)
  })

  it("records every request with its body and time, and every token minted", async () => {
    const backend = await start()
    const before = Date.now()
    const { credentials } = (await (await ask(backend, ["conn-gh"])).json()) as { credentials: Array<{ access_token: string }> }
    await ask(backend, ["conn-gh"], "wrong")
    expect(backend.requests).toEqual([
      {
        method: "POST",
        path: "/get-mcp-oauth-credentials",
        at: expect.any(Number),
        authorized: true,
        body: { agentId: "agent-1", accountToolInstanceId: "ati-mcp", oauthConnectionIds: ["conn-gh"], requiredScopes: [] },
      },
      expect.objectContaining({ authorized: false }),
    ])
    expect(backend.requests[0]!.at).toBeGreaterThanOrEqual(before)
    expect(backend.minted).toEqual([
      { connectionId: "conn-gh", provider: "github", token: credentials[0]!.access_token, expiresAt: expect.any(Number), at: expect.any(Number) },
    ])
  })

  it("answers a standard tool's secrets by accountToolInstanceId, and 404 for a tool it does not know", async () => {
    const backend = await start()
    const found = await post(backend, "get-agent-tool-credentials", { agentId: "agent-1", accountToolInstanceId: "ati-tool" })
    expect([found.status, await found.json()]).toEqual([200, { secrets }])
    const missing = await post(backend, "get-agent-tool-credentials", { agentId: "agent-1", accountToolInstanceId: "ati-other" })
    expect([missing.status, await missing.json()]).toEqual([404, { error: "tool_not_in_toolbelt" }])
  })
})
