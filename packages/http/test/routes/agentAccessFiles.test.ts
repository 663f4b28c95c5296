import { mkdtemp, readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { makeFileAgentAccess } from "../../src/composition/agentAccess.ts"
import { mcpBody, startTestApp, TEST_ACCESS, testConfig, type TestApp } from "../support/support.ts"

// The agent-access routes over the real adapters: FileAgentTokenIssuer (an Ed25519 key kept in a
// state directory) and JoseAccessTokens, with the file-backed revocations, as `main` wires them.

let stateDir: string
let apps: Array<TestApp> = []
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "dtma-agent-access-"))
})
afterEach(async () => {
  for (const app of apps) await app.close()
  apps = []
  await rm(stateDir, { recursive: true, force: true })
})

/** A DTMA over the state directory (a second call is the same DTMA after a restart), with `mcp-a` deployed. */
const startDtma = async (maxTokenTtlSeconds = 86_400): Promise<TestApp> => {
  const config = testConfig({ stateDir, access: { ...TEST_ACCESS, maxTokenTtlSeconds } })
  const app = await startTestApp({ config, access: await Effect.runPromise(makeFileAgentAccess(config)) })
  apps.push(app)
  expect((await app.json("POST", "/mcp-servers", mcpBody())).status).toBe(201)
  return app
}

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
}

const initialize = async (app: TestApp, token: string) => {
  const res = await fetch(`${app.base}/mcp-servers/mcp-a/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify(INIT),
  })
  const text = await res.text()
  return { status: res.status, text }
}

const issue = async (app: TestApp, agentId = "agent-1"): Promise<{ token: string; tokenId: string }> => {
  const res = await app.json("POST", "/agent-tokens", { agentId, grants: [{ server: "mcp-a" }] })
  expect(res.status).toBe(201)
  return ((await res.json()) as { data: { token: string; tokenId: string } }).data
}

const jwksOf = async (app: TestApp) => (await (await fetch(`${app.base}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> }

const kidOf = (token: string): unknown => JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()).kid

/** Every file in the state directory, as text. */
const stateFiles = async (): Promise<string> =>
  (
    await Promise.all(
      (await readdir(stateDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name), "utf8")),
    )
  ).join("\n")

describe("agent access over the real issuer and verifier", () => {
  it("issues an EdDSA JWT that opens a session; its value is in no log line and nowhere in the state directory", async () => {
    const app = await startDtma()
    const { token, tokenId } = await issue(app)
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString())).toMatchObject({ alg: "EdDSA" })
    expect((await initialize(app, token)).status).toBe(200)
    await app.api(`/agent-tokens/${tokenId}`, { method: "DELETE" })
    expect(app.logs.filter((line) => line.includes(token) || line.includes(token.split(".")[2]!))).toEqual([])
    const onDisk = await stateFiles()
    expect(onDisk).toContain(tokenId)
    expect(onDisk).not.toContain(token.split(".")[2]!)
  })

  it("publishes the public key only: no private member in the JWKS", async () => {
    const app = await startDtma()
    const { keys } = await jwksOf(app)
    expect(keys).toEqual([{ kty: "OKP", crv: "Ed25519", x: expect.any(String), kid: expect.any(String), alg: "EdDSA", use: "sig" }])
    const privateKey = JSON.parse(await readFile(join(stateDir, "agent-token-keys.json"), "utf8")).keys[0].privateJwk.d as string
    expect(JSON.stringify(keys)).not.toContain(privateKey)
  })

  it("rotates to a new key: new tokens carry its kid, a token signed before still opens sessions, both keys are published", async () => {
    const app = await startDtma()
    const before = await issue(app)
    const res = await app.api("/agent-tokens/keys/rotate", { method: "POST" })
    expect(res.status).toBe(200)
    const { kid } = ((await res.json()) as { data: { kid: string } }).data
    expect(kid).not.toBe(kidOf(before.token))
    const after = await issue(app)
    expect(kidOf(after.token)).toBe(kid)
    expect((await initialize(app, before.token)).status).toBe(200)
    expect((await initialize(app, after.token)).status).toBe(200)
    expect((await jwksOf(app)).keys.map((k) => k.kid).sort()).toEqual([kid, kidOf(before.token)].sort())
  })

  it("refuses a lifetime past DTMA_AGENT_TOKEN_MAX_TTL_S, naming the bound", async () => {
    const app = await startDtma(3_600)
    const res = await app.json("POST", "/agent-tokens", { agentId: "a", grants: [], ttlSeconds: 3_601 })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ success: false, error: "Invalid ttlSeconds: must be a whole number of seconds from 1 to 3600", code: "invalid_request" })
  })

  it("keeps revocations of an agent and of a token across a restart: their tokens still get 401 invalid_token (revoked)", async () => {
    const app = await startDtma()
    const agentToken = await issue(app, "agent-1")
    const oneToken = await issue(app, "agent-2")
    const kept = await issue(app, "agent-3")
    expect((await app.api("/agents/agent-1/revoke", { method: "POST" })).status).toBe(200)
    expect((await app.api(`/agent-tokens/${oneToken.tokenId}`, { method: "DELETE" })).status).toBe(200)
    const restarted = await startDtma()
    for (const { token } of [agentToken, oneToken]) {
      const refused = await initialize(restarted, token)
      expect(refused.status).toBe(401)
      expect(JSON.parse(refused.text)).toMatchObject({ error: { data: { error: "invalid_token" }, message: expect.stringContaining("(revoked)") } })
    }
    expect((await initialize(restarted, kept.token)).status).toBe(200)
  })
})
