import { execFileSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { AuditLedger, keyOfRecord, tally } from "../support/auditLedger.ts"
import { freePort, startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { startExternalIssuer, type ExternalIssuer } from "../support/externalIssuer.ts"
import { runInspector } from "../support/mcpInspector.ts"
import { eventually } from "../support/mcpProxySupport.ts"

// Issue 13 end to end: a real DTMA, three real MCP servers, agents with tokens of its own issuer and
// of an external one, the SDK client and the MCP Inspector CLI, revocation, expiry, rotation, audit.

const run = `aa${Date.now().toString(36)}`
const S1 = `${run}-everything`
const S2 = `${run}-memory`
const S3 = `${run}-files`
const ATI3 = `ati-${run}-files`
const A_TOOLS = ["echo", "get-sum", "trigger-long-running-operation"]
const INITIALIZE = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
}
const MCP_HEADERS = { accept: "application/json, text/event-stream" }

const ledger = new AuditLedger()
const auditFile = join(mkdtempSync(join(tmpdir(), "dtma-audit-")), "audit.jsonl")
/** The Inspector's HOME: it keeps a catalog there. */
const inspectorHome = mkdtempSync(join(tmpdir(), "inspector-home-"))
/** Every token the test holds, and every argument value it sent: none may reach the audit. */
const tokens: Array<string> = []
const args: Array<string> = []
const clients: Array<Client> = []
/** Calls answered as if what they named did not exist: each one a `denied` record. */
let ungranted = 0
/** Calls in flight cut by a revocation: each answered, and recorded, `denied` for `invalid_token`. */
let cutCalls = 0
let dtma: DtmaProcess
let issuer: ExternalIssuer

const arg = (label: string): string => {
  const value = `${label}-${randomUUID()}`
  args.push(value)
  return value
}
const endpoint = (name: string) => `${dtma.url}/mcp-servers/${encodeURIComponent(name)}/mcp`
const operator = (method: string, path: string, body?: unknown) => ledger.call(`${dtma.url}${path}`, { method, token: dtma.token, body })
const initializeAs = (name: string, token: string) => ledger.call(endpoint(name), { method: "POST", token, body: INITIALIZE, headers: MCP_HEADERS })
const textOf = (result: unknown): string => (result as { content: Array<{ text: string }> }).content[0]?.text ?? ""
const names = (items: ReadonlyArray<{ name: string }>) => items.map((i) => i.name).sort()
const byName = <T extends { name: string }>(items: ReadonlyArray<T>) => [...items].sort((a, b) => a.name.localeCompare(b.name))
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { exp: number }
const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as { kid: string }).kid
/** `p`'s time, or Infinity when it has not come `ms` from now: a cut that never comes fails fast. */
const within = (p: Promise<number>, ms: number): Promise<number> =>
  Promise.race([p, new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), ms))])
const settle = (p: Promise<unknown>) =>
  p.then(
    (result) => ({ result }),
    (e: { code?: unknown; message?: unknown }) => ({ error: { code: e.code, message: e.message } }),
  )

interface Minted {
  readonly token: string
  readonly tokenId: string
  readonly expiresAt: string
}

const mint = async (agentId: string, grants: ReadonlyArray<Record<string, unknown>>, ttlSeconds = 600): Promise<Minted> => {
  const res = await operator("POST", "/agent-tokens", { agentId, grants, ttlSeconds })
  expect(res.status).toBe(201)
  tokens.push(res.body.data.token)
  return res.body.data
}

/** The official SDK client on server `name`'s endpoint under `token`; a cut stream is not retried (the audit stays countable). */
const connect = async (name: string, token: string): Promise<{ readonly client: Client; readonly sessionId: string }> => {
  const transport = new StreamableHTTPClientTransport(new URL(endpoint(name)), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    fetch: ledger.fetch,
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 },
  })
  const client = new Client({ name: "agent-access-e2e", version: "1.0.0" })
  // A cut stream is reported here; the tests watch it through the ledger. (The SDK's Client has callbacks, not events.)
  // oxlint-disable-next-line unicorn/prefer-add-event-listener
  client.onerror = () => undefined
  await client.connect(transport)
  clients.push(client)
  return { client, sessionId: transport.sessionId! }
}

const inspect = (cliArgs: ReadonlyArray<string>) => runInspector(cliArgs, { home: inspectorHome, secrets: tokens })

describe("agent access on a real DTMA in front of three real MCP servers", () => {
  let full: Record<string, ReadonlyArray<{ name: string }>>
  let tokenA: Minted
  let tokenB: Minted
  let shortB: Minted
  let shortSession: { readonly client: Client; readonly sessionId: string }

  beforeAll(async () => {
    issuer = await startExternalIssuer(`https://idp.${run}.test`)
    const port = await freePort()
    dtma = await startDtma({
      port,
      env: {
        DTMA_RESOURCE_URL: `http://127.0.0.1:${port}`,
        DTMA_AUDIT_LOG: auditFile,
        DTMA_AGENT_TOKEN_ISSUERS: JSON.stringify([{ issuer: issuer.issuer, jwksUrl: issuer.jwksUrl }]),
      },
    })
    tokens.push(dtma.token!)
    const deploy = async (name: string, image: string, ati: string) => {
      const res = await operator("POST", "/mcp-servers", {
        dockerImageUrl: image,
        instanceNameOnToolbox: name,
        accountToolInstanceId: ati,
        mcpTransportType: "stdio",
      })
      if (res.status !== 201) throw new Error(`deploying ${image} failed: ${res.status} ${res.text}`)
    }
    await Promise.all([
      deploy(S1, "dtma/mcp-everything:2026.8.31", `ati-${run}-everything`),
      deploy(S2, "dtma/mcp-memory:2026.8.31", `ati-${run}-memory`),
      deploy(S3, "dtma/mcp-filesystem:2026.8.31", ATI3),
    ])
    // The shortest lifetime the API takes (1 s); refused once the 30 s leeway has passed too. Its session waits meanwhile.
    shortB = await mint("agent-b", [{ accountToolInstanceId: ATI3 }], 1)
    shortSession = await connect(S3, shortB.token)
    await ledger.streamOpened(shortSession.sessionId)
    full = {}
    for (const name of [S1, S2, S3]) full[name] = (await (await connect(name, dtma.token!)).client.listTools()).tools
    tokenA = await mint("agent-a", [{ server: S1, tools: A_TOOLS, prompts: [], resources: false }, { server: S2 }])
    tokenB = await mint("agent-b", [{ accountToolInstanceId: ATI3 }])
  })

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
    // At most four removals at once: dozens of concurrent force-removals hang this engine.
    await Promise.all([S1, S2, S3].map((name) => dtma?.call("DELETE", `/mcp-servers/${name}`)))
    await dtma?.kill("SIGTERM")
    await issuer?.close()
    rmSync(inspectorHome, { recursive: true, force: true })
    const left = execFileSync("docker", ["ps", "-aq", "--filter", `label=dtma.managed=${dtma?.scope}`], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
    for (let i = 0; i < left.length; i += 4) execFileSync("docker", ["rm", "-f", ...left.slice(i, i + 4)])
  })

  it("lets each agent list and call exactly its grants with the SDK client, answers the rest as absent, refuses it the other's servers (403)", async () => {
    const a1 = await connect(S1, tokenA.token)
    expect(byName((await a1.client.listTools()).tools)).toEqual(byName(full[S1]!.filter((t) => A_TOOLS.includes(t.name))))
    expect((await a1.client.listPrompts()).prompts).toEqual([])
    expect((await a1.client.listResources()).resources).toEqual([])
    expect((await a1.client.listResourceTemplates()).resourceTemplates).toEqual([])
    const message = arg("echo")
    expect(textOf(await a1.client.callTool({ name: "echo", arguments: { message } }))).toBe(`Echo: ${message}`)
    expect(textOf(await a1.client.callTool({ name: "get-sum", arguments: { a: 1_234_567, b: 7_654_321 } }))).toContain("8888888")

    // What the grants leave out is answered as server-everything answers a tool it does not have.
    const hidden = full[S1]!.map((t) => t.name).find((n) => !A_TOOLS.includes(n))!
    const absent = `no-such-tool-${run}`
    const operatorSession = await connect(S1, dtma.token!)
    const missing = JSON.stringify(await settle(operatorSession.client.callTool({ name: absent, arguments: { value: arg("absent") } })))
    const asAbsent = JSON.stringify(await settle(a1.client.callTool({ name: hidden, arguments: { value: arg("hidden") } })))
    const reallyAbsent = JSON.stringify(await settle(a1.client.callTool({ name: absent, arguments: { value: arg("absent") } })))
    ungranted += 2
    expect(asAbsent.replaceAll(hidden, "<name>")).toBe(missing.replaceAll(absent, "<name>"))
    expect(reallyAbsent).toBe(missing)

    const a2 = await connect(S2, tokenA.token)
    expect(byName((await a2.client.listTools()).tools)).toEqual(byName(full[S2]!))
    const [entity, observation] = [arg("entity"), arg("observation")]
    await a2.client.callTool({ name: "create_entities", arguments: { entities: [{ name: entity, entityType: "e2e", observations: [observation] }] } })
    expect(JSON.stringify(await a2.client.callTool({ name: "search_nodes", arguments: { query: entity } }))).toContain(observation)

    const b3 = await connect(S3, tokenB.token)
    expect(byName((await b3.client.listTools()).tools)).toEqual(byName(full[S3]!))
    const [path, content] = [`/tmp/${arg("file")}.txt`, arg("content")]
    expect((await b3.client.callTool({ name: "write_file", arguments: { path, content } })).isError ?? false).toBe(false)
    expect(textOf(await b3.client.callTool({ name: "read_text_file", arguments: { path } }))).toBe(content)

    for (const [token, servers] of [
      [tokenA.token, [S3]],
      [tokenB.token, [S1, S2]],
    ] as const) {
      for (const name of servers) await expect(connect(name, token)).rejects.toMatchObject({ code: 403 })
    }
    // The same refusal whether the server exists or not, but for the name asked.
    const [there, notThere] = [await initializeAs(S1, tokenB.token), await initializeAs(`no-such-${run}`, tokenB.token)]
    expect([there.status, notThere.status]).toEqual([403, 403])
    expect(there.headers.get("www-authenticate")).toMatch(/error="insufficient_scope"/)
    expect(notThere.text.replaceAll(`no-such-${run}`, "<name>")).toBe(there.text.replaceAll(S1, "<name>"))
    // An agent token opens no management route.
    expect(await ledger.call(`${dtma.url}/audit`, { method: "GET", token: tokenA.token })).toMatchObject({
      status: 403,
      body: { code: "agent_token_not_allowed" },
    })
  })

  it("lists and calls exactly an agent's grants with the MCP Inspector CLI, which gets 403 on a server not granted", async () => {
    const passThrough = await ledger.passThrough(endpoint(S1))
    const refused = await ledger.passThrough(endpoint(S2))
    try {
      const bearer = (token: string) => ["--transport", "http", "--header", `Authorization: Bearer ${token}`, "--format", "json"]
      const started = performance.now()
      const listed = await inspect([passThrough.url, ...bearer(tokenA.token), "--method", "tools/list"])
      console.info(`mcp-inspector --cli tools/list through the DTMA: ${Math.round(performance.now() - started)} ms`)
      expect(listed.failure).toBeNull()
      expect(names(JSON.parse(listed.stdout).result.tools)).toEqual([...A_TOOLS].sort())
      const message = arg("inspector")
      const called = await inspect([
        passThrough.url,
        ...bearer(tokenA.token),
        "--method",
        "tools/call",
        "--tool-name",
        "echo",
        "--tool-arg",
        `message=${message}`,
      ])
      expect(called.failure).toBeNull()
      expect(called.stdout).toContain(`Echo: ${message}`)
      const other = await inspect([refused.url, ...bearer(tokenB.token), "--method", "tools/list"])
      // It read the 403's WWW-Authenticate: the scope that would do.
      expect(other.failure).toMatch(/^exit 1: .*Insufficient scope: required .*dtma:server:/)
      expect(other.failure).toContain(`dtma:server:${S2}`)
    } finally {
      await passThrough.close()
      await refused.close()
    }
  })

  it("accepts tokens of an issuer whose JWKS it fetches over loopback HTTP, with grants or scopes, and refuses an unknown issuer's with 401", async () => {
    const claims = { sub: "agent-ext", aud: dtma.url }
    const viaGrants = await issuer.sign({ ...claims, jti: `${run}-ext-1`, grants: [{ server: S2, tools: ["read_graph"] }] })
    const viaScope = await issuer.sign({ ...claims, jti: `${run}-ext-2`, scope: `dtma:tool:${S1}/echo` })
    const unknown = await issuer.sign({ ...claims, jti: `${run}-ext-3`, iss: `https://unknown.${run}.test`, grants: [{ server: S2 }] })
    tokens.push(viaGrants, viaScope, unknown)
    const e2 = await connect(S2, viaGrants)
    expect(names((await e2.client.listTools()).tools)).toEqual(["read_graph"])
    expect((await e2.client.callTool({ name: "read_graph", arguments: {} })).isError ?? false).toBe(false)
    const e1 = await connect(S1, viaScope)
    expect(names((await e1.client.listTools()).tools)).toEqual(["echo"])
    expect(issuer.fetches()).toBeGreaterThan(0)
    console.info(`external issuer: its JWKS fetched ${issuer.fetches()} time(s) for 2 tokens and 2 sessions`)

    await expect(connect(S2, unknown)).rejects.toMatchObject({ code: 401 })
    const refused = await initializeAs(S2, unknown)
    expect(refused.status).toBe(401)
    expect(refused.headers.get("www-authenticate")).toMatch(/error="invalid_token"/)
  })

  it("keeps accepting a token signed by the key rotated out, beside the new key's tokens, and publishes both keys", async () => {
    const grants = [{ server: S2, tools: ["read_graph"] }]
    const before = await mint("agent-r", grants)
    const rotated = await operator("POST", "/agent-tokens/keys/rotate")
    expect(rotated.status).toBe(200)
    const after = await mint("agent-r", grants)
    expect(kidOf(after.token)).toBe(rotated.body.data.kid)
    expect(kidOf(before.token)).not.toBe(rotated.body.data.kid)
    const jwks = await ledger.call(`${dtma.url}/.well-known/jwks.json`, { method: "GET", token: null })
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toEqual(expect.arrayContaining([kidOf(before.token), kidOf(after.token)]))
    for (const { token } of [before, after]) expect(names((await (await connect(S2, token)).client.listTools()).tools)).toEqual(["read_graph"])
  })

  it("cuts an agent's sessions within a second of POST /agents/:agentId/revoke, streams and call in flight, and answers its token 401 after", async () => {
    const a1 = await connect(S1, tokenA.token)
    const a2 = await connect(S2, tokenA.token)
    await Promise.all([ledger.streamOpened(a1.sessionId), ledger.streamOpened(a2.sessionId)])
    const progressed = Promise.withResolvers<void>()
    const inFlight = settle(
      a1.client.callTool({ name: "trigger-long-running-operation", arguments: { duration: 30, steps: 30 } }, undefined, {
        onprogress: () => progressed.resolve(),
        timeout: 60_000,
      }),
    )
    await progressed.promise
    const sdkSettled = inFlight.then(() => performance.now())

    const started = performance.now()
    expect((await operator("POST", "/agents/agent-a/revoke")).status).toBe(200)
    const ends = await Promise.all(
      [ledger.streamEnded(a1.sessionId), ledger.streamEnded(a2.sessionId), ledger.streamEnded(a1.sessionId, "tools/call")].map((p) => within(p, 5_000)),
    )
    const [stream1, stream2, call] = ends.map((t) => Math.round(t - started))
    const sdk = await Promise.race([
      sdkSettled.then((t) => `${Math.round(t - started)} ms`),
      new Promise<string>((r) => setTimeout(() => r("not within 1 s"), 1_000)),
    ])
    console.info(
      `POST /agents/agent-a/revoke: notification streams ended ${stream1} and ${stream2} ms after it was sent, ` +
        `the answer stream of the call in flight ${call} ms; ` +
        `the SDK's callTool settled: ${sdk}`,
    )
    expect(Math.max(stream1!, stream2!, call!)).toBeLessThan(1_000)
    // The call is answered, not left hanging: the SDK's promise fails at once, saying why.
    expect(sdk).not.toBe("not within 1 s")
    expect(await inFlight).toMatchObject({ error: { code: -32010, message: expect.stringContaining("the access token was revoked") } })
    cutCalls += 1

    expect(await settle(a2.client.listTools())).toMatchObject({ error: { code: 401 } })
    const refused = await initializeAs(S2, tokenA.token)
    expect(refused.status).toBe(401)
    expect(refused.headers.get("www-authenticate")).toMatch(/error="invalid_token"/)
  })

  it("cuts the session of one token within a second of DELETE /agent-tokens/:tokenId and answers it 401; the agent's new token works", async () => {
    const b3 = await connect(S3, tokenB.token)
    await ledger.streamOpened(b3.sessionId)
    const started = performance.now()
    expect((await operator("DELETE", `/agent-tokens/${tokenB.tokenId}`)).status).toBe(200)
    const cut = Math.round((await within(ledger.streamEnded(b3.sessionId), 5_000)) - started)
    console.info(`DELETE /agent-tokens/:tokenId: the notification stream ended ${cut} ms after it was sent`)
    expect(cut).toBeLessThan(1_000)
    expect(await settle(b3.client.listTools())).toMatchObject({ error: { code: 401 } })
    const fresh = await mint("agent-b", [{ accountToolInstanceId: ATI3 }])
    expect(names((await (await connect(S3, fresh.token)).client.listTools()).tools)).toEqual(names(full[S3]!))
  })

  it("ends the session of a token that expired within a second of exp + the 30 s leeway, and answers that token 401", async () => {
    const cutAt = claimsOf(shortB.token).exp * 1000 + 30_000
    const ended = performance.timeOrigin + (await within(ledger.streamEnded(shortSession.sessionId), cutAt - Date.now() + 5_000))
    const late = Math.round(ended - cutAt)
    console.info(`a token of ttl 1 s: its session's notification stream ended ${late} ms after exp + leeway`)
    expect(late).toBeGreaterThan(-100)
    expect(late).toBeLessThan(1_000)
    expect(await settle(shortSession.client.listTools())).toMatchObject({ error: { code: 401 } })
    const refused = await initializeAs(S3, shortB.token)
    expect(refused.status).toBe(401)
    expect(refused.headers.get("www-authenticate")).toMatch(/error="invalid_token", error_description="[^"]*\(expired\)/)
  }, 60_000)

  it("holds one audit record per JSON-RPC request and per refused HTTP request, in its file and GET /audit, with no argument or token", async () => {
    await Promise.all(clients.map((c) => c.close()))
    const fromFile = () =>
      readFileSync(auditFile, "utf8")
        .split("\n")
        .filter(Boolean)
        .map(
          (line) =>
            JSON.parse(line) as { route: string; server: string | null; method: string | null; name: string | null; outcome: string; errorCode: string | null },
        )
    const expected = () => tally(ledger.exchanges.map((e) => e.key))
    await eventually(() => expect(tally(fromFile().map(keyOfRecord))).toEqual(expected()), 10_000)
    const records = fromFile()
    const viaApi = await operator("GET", "/audit?limit=1000")
    expect(viaApi.status).toBe(200)
    expect(viaApi.body.data.records).toEqual([...records].reverse())
    // Its own record follows its answer.
    await eventually(() => expect(tally(fromFile().map(keyOfRecord))).toEqual(expected()), 10_000)

    const mcp = records.filter((r) => r.route === "/mcp-servers/:name/mcp")
    const refusals = ledger.exchanges.filter((e) => e.status === 401 || e.status === 403)
    const scopeRefusals = refusals.filter((e) => e.status === 403 && e.key.startsWith("/mcp-servers/:name/mcp "))
    expect(records.filter((r) => r.outcome === "denied")).toHaveLength(refusals.length + ungranted + cutCalls)
    expect(records.filter((r) => r.errorCode === "invalid_token")).toHaveLength(refusals.filter((e) => e.status === 401).length + cutCalls)
    expect(records.filter((r) => r.errorCode === "insufficient_scope")).toHaveLength(scopeRefusals.length + ungranted)
    console.info(
      `audit: ${records.length} records for ${ledger.exchanges.length - 1} HTTP requests, the same in the file and GET /audit: ` +
        `${mcp.length} on MCP endpoints ` +
        `(${mcp.filter((r) => r.method === "tools/call").length} tools/call), ${refusals.length} refused HTTP requests (401/403), ` +
        `${ungranted} calls answered as absent, ${cutCalls} call cut by a revocation, ${records.length - mcp.length} management requests`,
    )

    const written = `${readFileSync(auditFile, "utf8")}\n${viaApi.text}`
    const signatures = tokens.map((t) => t.split(".")[2] ?? t)
    const leaked = [...tokens, ...signatures, ...args].filter((secret) => written.includes(secret))
    expect(leaked.map((s) => s.slice(0, 16))).toEqual([])
    expect(tokens.filter((t) => dtma.output().includes(t))).toHaveLength(0)
    console.info(`audit: none of ${tokens.length} tokens and ${args.length} distinctive argument values in ${written.length} characters`)
  })
})
