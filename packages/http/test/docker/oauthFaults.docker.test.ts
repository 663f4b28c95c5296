import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { containersNamed } from "../support/mcpClient.ts"
import { startOAuthBackend, type OAuthBackend } from "../support/oauthBackend.ts"
import {
  clientOf,
  deployed,
  EVERYTHING,
  FILESYSTEM,
  leftovers,
  mintedFor,
  oauthDeploy,
  requestsFor,
  startRig,
  toolText,
  type OAuthRig,
} from "../support/oauthRig.ts"
import { restartScenario } from "../support/oauthRestart.ts"

// Every way the backend can refuse or fail, against a real DTMA and engine: the deploy answers with
// the status, a message naming the connection and the reason, and leaves no container and no
// credential directory; the refresh endpoint answers 200, 404, 409 and 502 as the spec says; a DTMA
// killed with SIGKILL fetches the tokens again. The tests run concurrently (each backend fault on a
// backend and DTMA of its own): the timeout alone takes 4 tries of 10 s.

const RUN = `of${Date.now().toString(36)}`
const ID = {
  ok: `gh-ok-${RUN}`,
  forbidden: `gh-forbidden-${RUN}`,
  missing: `gh-missing-${RUN}`,
  reauth: `gh-reauth-${RUN}`,
  refused: `gh-refused-${RUN}`,
  slow: `gh-slow-${RUN}`,
} as const
const names: Array<string> = []
const nameOf = (what: string) => {
  const name = `${RUN}-${what}`
  names.push(name)
  return name
}

let backend: OAuthBackend
let rig: OAuthRig
/** Rigs of single tests, with the names of what they may have left on the engine. */
const others: Array<{ readonly rig: OAuthRig; readonly names: ReadonlyArray<string> }> = []
const report: Array<string> = []

beforeAll(async () => {
  backend = await startOAuthBackend()
  rig = await startRig({
    backend,
    connections: {
      [ID.ok]: { provider: "github", scopes: ["repo"] },
      [ID.forbidden]: { provider: "github", state: "forbidden" },
      [ID.reauth]: { provider: "github", state: "reauthorization_required" },
      [ID.refused]: { provider: "github", scopes: ["repo"] },
      [ID.slow]: { provider: "github", delayMs: 11_000 },
    },
  })
}, 30_000)

afterAll(async () => {
  await Promise.all(others.map((o) => o.rig.close(o.names)))
  await rig?.close(names)
  await backend?.close()
  console.log(`oauth faults (${RUN}):\n  ${report.join("\n  ")}`)
})

/** A deploy the backend cannot serve: the answer, and proof that nothing was left behind. */
const refusedDeploy = async (on: OAuthRig, what: string, connectionIds: ReadonlyArray<string>) => {
  const name = nameOf(what)
  const started = Date.now()
  const res = await on.call("POST", "/mcp-servers", oauthDeploy(name, FILESYSTEM, connectionIds, { baseConfigOverrideJson: { Cmd: ["/run/secrets/dtma"] } }))
  report.push(`${what}: ${res.status} ${res.body.code} after ${Date.now() - started} ms: ${res.body.error}`)
  expect(await containersNamed(name)).toEqual([])
  expect(leftovers(on, name)).toEqual([])
  expect((await on.call("GET", `/mcp-servers/${name}`)).status).toBe(404)
  expect(JSON.stringify(res.body)).not.toMatch(/eyJ[\w-]+\.eyJ/)
  return res
}

describe("OAuth faults on a real engine", { concurrent: true }, () => {
  it("refuses a deploy with 502 oauth_timeout when the backend answers later than the DTMA waits (4 tries of 10 s), leaving nothing behind", async () => {
    // The DTMA waits 10 s for each of 4 tries (adaptersModule's BACKEND_TIMEOUT_MS, retries: 3); the backend takes 11.
    const res = await refusedDeploy(rig, "timeout", [ID.slow])
    expect(res.status).toBe(502)
    expect(res.body).toMatchObject({ success: false, code: "oauth_timeout" })
    expect(res.body.error).toContain("no answer within 10000 ms")
    expect(res.body.error).toContain(`'${ID.slow}'`)
    expect(requestsFor(backend, ID.slow)).toHaveLength(4)
  }, 90_000)

  it("a DTMA restarted after SIGKILL refetches an adopted server's tokens into its container, keeps refreshing, wipes gone servers' leftovers", async () => {
    const scenario = await restartScenario(RUN)
    others.push(scenario)
    const measured = await scenario.run()
    expect(measured).toHaveLength(3)
    report.push(...measured)
  }, 120_000)

  it("refuses a deploy with 502 oauth_forbidden naming the connection the agent may not use (403), leaving nothing behind", async () => {
    const res = await refusedDeploy(rig, "forbidden", [ID.ok, ID.forbidden])
    expect(res.status).toBe(502)
    expect(res.body).toMatchObject({ success: false, code: "oauth_forbidden" })
    expect(res.body.error).toContain(`connection '${ID.forbidden}'`)
    expect(res.body.error).toContain("forbidden")
  }, 60_000)

  it("refuses a deploy with 502 oauth_not_found naming the unknown connection (404), leaving nothing behind", async () => {
    const res = await refusedDeploy(rig, "missing", [ID.missing])
    expect(res.status).toBe(502)
    expect(res.body).toMatchObject({ success: false, code: "oauth_not_found" })
    expect(res.body.error).toContain(`connection '${ID.missing}'`)
  }, 60_000)

  it("refuses a deploy with 502 oauth_reauthorization_required naming the connection to sign in to again (409), leaving nothing behind", async () => {
    const res = await refusedDeploy(rig, "reauth", [ID.reauth])
    expect(res.status).toBe(502)
    expect(res.body).toMatchObject({ success: false, code: "oauth_reauthorization_required" })
    expect(res.body.error).toContain(`connection '${ID.reauth}'`)
    expect(res.body.error).toContain("reauthorization_required")
  }, 60_000)

  it("refuses a deploy with 502 oauth_unauthorized, without retrying, when the backend rejects the DTMA's bearer token (401)", async () => {
    const wrong = await startRig({ backend, bearer: "not-the-backend-token", connections: {} })
    others.push({ rig: wrong, names: [] })
    const res = await refusedDeploy(wrong, "unauthorized", [ID.ok])
    expect(res.status).toBe(502)
    expect(res.body).toMatchObject({ success: false, code: "oauth_unauthorized" })
    expect(res.body.error).toContain("401")
    expect(res.body.error).toContain(`'${ID.ok}'`)
    expect(res.body.error).not.toContain("not-the-backend-token")
    // A refusal is not retried.
    expect(backend.requests.filter((r) => !r.authorized && r.path.startsWith("/get-mcp-oauth"))).toHaveLength(1)
  }, 60_000)

  it("refuses a deploy with 502 oauth_unavailable, after retrying, when the backend answers 503 or resets every connection", async () => {
    const down = await startRig({ connections: { [ID.ok]: { provider: "github" } } })
    others.push({ rig: down, names: [] })
    down.backend.down = "503"
    const unavailable = await refusedDeploy(down, "down-503", [ID.ok])
    expect(unavailable.status).toBe(502)
    expect(unavailable.body).toMatchObject({ success: false, code: "oauth_unavailable" })
    expect(unavailable.body.error).toContain("503")
    expect(unavailable.body.error).toContain(`'${ID.ok}'`)
    expect(requestsFor(down.backend, ID.ok)).toHaveLength(4)
    down.backend.down = "reset"
    const reset = await refusedDeploy(down, "down-reset", [ID.ok])
    expect(reset.status).toBe(502)
    expect(reset.body).toMatchObject({ success: false, code: "oauth_unavailable" })
    expect(reset.body.error).toContain(`'${ID.ok}'`)
    expect(requestsFor(down.backend, ID.ok)).toHaveLength(8)
    expect(down.backend.minted).toEqual([])
  }, 60_000)

  it("POST /oauth/refresh answers 404 for an unknown server and 409 for a server without OAuth connections", async () => {
    const unknown = await rig.call("POST", `/mcp-servers/${RUN}-nobody/oauth/refresh`)
    expect(unknown.status).toBe(404)
    expect(unknown.body).toMatchObject({ success: false, code: "not_found" })
    const plain = nameOf("plain")
    await deployed(rig, { dockerImageUrl: EVERYTHING, instanceNameOnToolbox: plain, accountToolInstanceId: `ati-${plain}`, mcpTransportType: "stdio" })
    const res = await rig.call("POST", `/mcp-servers/${plain}/oauth/refresh`)
    expect(res.status).toBe(409)
    expect(res.body).toMatchObject({ success: false, code: "no_oauth_connections" })
    expect(res.body.error).toContain(plain)
  }, 60_000)

  it("POST /oauth/refresh answers 200 with the connections, or 502 naming the one the backend refuses, the old token still delivered", async () => {
    const name = nameOf("refresh")
    await deployed(rig, oauthDeploy(name, FILESYSTEM, [ID.refused], { baseConfigOverrideJson: { Cmd: ["/run/secrets/dtma"] } }))
    const client = await clientOf(rig, name)
    try {
      const ok = await rig.call("POST", `/mcp-servers/${name}/oauth/refresh`)
      expect(ok.status).toBe(200)
      expect(ok.body.data.connections).toEqual([
        { connectionId: ID.refused, provider: "github", status: "valid", expiresAt: expect.any(String), refreshedAt: expect.any(String) },
      ])
      const current = mintedFor(backend, ID.refused).at(-1)!.token
      expect(await toolText(client, "read_text_file", { path: "/run/secrets/dtma/github/access_token" })).toBe(current)

      backend.setState(ID.refused, "forbidden")
      const refused = await rig.call("POST", `/mcp-servers/${name}/oauth/refresh`)
      expect(refused.status).toBe(502)
      expect(refused.body).toMatchObject({ success: false, code: "oauth_forbidden" })
      expect(refused.body.error).toContain(`connection '${ID.refused}'`)
      expect(JSON.stringify(refused.body)).not.toContain(current)
      expect(await toolText(client, "read_text_file", { path: "/run/secrets/dtma/github/access_token" })).toBe(current)
      const detail = (await rig.call("GET", `/mcp-servers/${name}`)).body.data
      expect(detail.healthStatus).toBe("healthy")
      expect(detail.oauth).toEqual([
        expect.objectContaining({ connectionId: ID.refused, status: "refresh_failed", lastError: expect.stringContaining("forbidden") }),
      ])
      expect(JSON.stringify(detail)).not.toContain(current)
    } finally {
      await client.close()
    }
  }, 60_000)
})
