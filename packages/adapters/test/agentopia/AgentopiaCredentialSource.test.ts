import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Redacted, type Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { CredentialFetchFailed, CredentialRequest } from "@dtma/domain"
import { failureOf, run } from "@dtma/testing"
import { makeAgentopiaCredentialSource, type AgentopiaCredentialSourceOptions } from "../../src/agentopia/AgentopiaCredentialSource.ts"

const DTMA_TOKEN = "dtma-token-1"
const ACCESS_TOKEN = "gho_access-token-value-1"

interface Seen {
  readonly url: string
  readonly authorization: string | undefined
  readonly contentType: string | undefined
  readonly body: unknown
}

/** What the backend double answers to the n-th request (0-based) on a path; null: never answers. */
type Answer = (path: string, n: number) => { readonly status: number; readonly body?: unknown } | null

let server: Server | undefined
afterEach(() => new Promise<void>((resolve) => (server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve())))

const backend = async (answer: Answer, options: Partial<AgentopiaCredentialSourceOptions> = {}) => {
  const seen: Array<Seen> = []
  server = createServer((req, res) => {
    let text = ""
    req.on("data", (c: Buffer) => (text += c.toString()))
    req.on("end", () => {
      const path = (req.url ?? "").replace("/functions/v1/", "")
      const n = seen.filter((s) => s.url.endsWith(`/${path}`)).length
      seen.push({ url: req.url ?? "", authorization: req.headers.authorization, contentType: req.headers["content-type"], body: JSON.parse(text || "null") })
      const reply = answer(path, n)
      if (reply === null) return
      const body = reply.body === undefined ? "" : typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body)
      res.writeHead(reply.status, { "content-type": typeof reply.body === "string" ? "text/plain" : "application/json" }).end(body)
    })
  })
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  const source = makeAgentopiaCredentialSource({
    baseUrl: `http://127.0.0.1:${port}/functions/v1/`,
    token: Redacted.make(DTMA_TOKEN),
    timeoutMs: 300,
    retries: 2,
    retryBaseMs: 5,
    ...options,
  })
  return { source, seen }
}

const always =
  (status: number, body?: unknown): Answer =>
  () => ({ status, body })

const request: CredentialRequest = { agentId: "agent-1", accountToolInstanceId: "ati-1", connectionIds: ["conn-1"], requiredScopes: ["repo"] }

const credential = {
  connection_id: "conn-1",
  provider: "github",
  access_token: ACCESS_TOKEN,
  token_type: "Bearer",
  expires_at: "2026-01-01T00:00:00.000Z",
  scopes: ["repo"],
}

const tagOf = (e: CredentialFetchFailed) => ({ reason: e.reason, connectionId: e.connectionId })

describe("AgentopiaCredentialSource fetchOAuth", () => {
  it("posts the request with the DTMA's bearer token and hands back redacted tokens with expiry in unix ms", async () => {
    const { source, seen } = await backend(always(200, { credentials: [credential, { ...credential, connection_id: "conn-2", expires_at: null, scopes: [] }] }))
    const credentials = await run(source.fetchOAuth(request))
    expect(seen).toEqual([
      {
        url: "/functions/v1/get-mcp-oauth-credentials",
        authorization: `Bearer ${DTMA_TOKEN}`,
        contentType: "application/json",
        body: { agentId: "agent-1", accountToolInstanceId: "ati-1", oauthConnectionIds: ["conn-1"], requiredScopes: ["repo"] },
      },
    ])
    expect(credentials.map((c) => ({ ...c, accessToken: Redacted.value(c.accessToken) }))).toEqual([
      { connectionId: "conn-1", provider: "github", accessToken: ACCESS_TOKEN, tokenType: "Bearer", expiresAt: Date.UTC(2026, 0, 1), scopes: ["repo"] },
      { connectionId: "conn-2", provider: "github", accessToken: ACCESS_TOKEN, tokenType: "Bearer", expiresAt: null, scopes: [] },
    ])
    expect(JSON.stringify(credentials)).not.toContain(ACCESS_TOKEN)
  })

  it("asks the configured path when one is given", async () => {
    const { source, seen } = await backend(always(200, { credentials: [] }), { oauthPath: "oauth/v2/credentials" })
    expect(await run(source.fetchOAuth(request))).toEqual([])
    expect(seen.map((s) => s.url)).toEqual(["/functions/v1/oauth/v2/credentials"])
  })

  it.each([
    [401, "unauthorized"],
    [403, "forbidden"],
    [404, "not_found"],
    [400, "invalid_response"],
  ])("reads a %i as %s and does not ask again", async (status, reason) => {
    const { source, seen } = await backend(always(status, { error: "nope" }))
    expect(tagOf(await failureOf(source.fetchOAuth(request)))).toEqual({ reason, connectionId: null })
    expect(seen).toHaveLength(1)
  })

  it("reads a 409 as reauthorization required for the connection the backend names, and does not ask again", async () => {
    const { source, seen } = await backend(always(409, { error: "reauthorization_required", connection_id: "conn-1" }))
    const error = await failureOf(source.fetchOAuth(request))
    expect(tagOf(error)).toEqual({ reason: "reauthorization_required", connectionId: "conn-1" })
    expect(error.message).toContain("'conn-1'")
    expect(seen).toHaveLength(1)
  })

  it.each([
    [403, "forbidden"],
    [404, "not_found"],
  ])("keeps the connection a %i names when it is one asked for", async (status, reason) => {
    const { source } = await backend(always(status, { error: "no", connection_id: "conn-1" }))
    expect(tagOf(await failureOf(source.fetchOAuth(request)))).toEqual({ reason, connectionId: "conn-1" })
  })

  it("drops a connection the backend names that was not asked for", async () => {
    const { source } = await backend(always(409, { error: "reauthorization_required", connection_id: "conn-other" }))
    expect(tagOf(await failureOf(source.fetchOAuth(request)))).toEqual({ reason: "reauthorization_required", connectionId: null })
  })

  it.each([500, 502, 503, 504, 408, 429])("reads a %i as unavailable after the configured retries", async (status) => {
    const { source, seen } = await backend(always(status))
    const error = await failureOf(source.fetchOAuth(request))
    expect({ ...tagOf(error), transient: error.transient }).toEqual({ reason: "unavailable", connectionId: null, transient: true })
    expect(seen).toHaveLength(3)
  })

  it("retries a 503 with backoff and succeeds when the backend recovers", async () => {
    const { source, seen } = await backend((_path, n) => (n < 2 ? { status: 503 } : { status: 200, body: { credentials: [credential] } }))
    expect((await run(source.fetchOAuth(request))).map((c) => c.connectionId)).toEqual(["conn-1"])
    expect(seen).toHaveLength(3)
  })

  it("waits longer before each retry: exponential backoff from the base delay, with jitter", async () => {
    const at: Array<number> = []
    const { source } = await backend(() => (at.push(performance.now()), { status: 503 }), { retries: 2, retryBaseMs: 40 })
    await failureOf(source.fetchOAuth(request))
    const [first, second] = [at[1]! - at[0]!, at[2]! - at[1]!]
    expect(first).toBeGreaterThanOrEqual(30)
    expect(second).toBeGreaterThanOrEqual(62)
    expect(second).toBeGreaterThan(first)
  })

  it("gives up with a timeout on a backend that never answers, each attempt bounded", async () => {
    const { source, seen } = await backend(() => null, { timeoutMs: 150, retries: 1 })
    const error = await failureOf(source.fetchOAuth(request))
    expect(tagOf(error)).toEqual({ reason: "timeout", connectionId: null })
    expect(error.detail).toContain("no answer within 150 ms")
    expect(seen).toHaveLength(2)
  })

  it("names the connections asked for when the failure is the whole request's (401, 5xx, timeout)", async () => {
    const twice: CredentialRequest = { ...request, connectionIds: ["conn-1", "conn-2"] }
    for (const answer of [always(401), always(503), () => null]) {
      const { source } = await backend(answer, { timeoutMs: 100, retries: 0 })
      const error = await failureOf(source.fetchOAuth(twice))
      expect(error.connectionId).toBeNull()
      expect(error.message).toContain("(asked for connections 'conn-1', 'conn-2')")
      await new Promise<void>((resolve) => (server!.closeAllConnections(), server!.close(() => resolve())))
      server = undefined
    }
  })

  it("reads a refused connection as unavailable", async () => {
    const source = makeAgentopiaCredentialSource({
      baseUrl: "http://127.0.0.1:9",
      token: Redacted.make(DTMA_TOKEN),
      timeoutMs: 1000,
      retries: 1,
      retryBaseMs: 5,
    })
    expect(tagOf(await failureOf(source.fetchOAuth(request)))).toEqual({ reason: "unavailable", connectionId: null })
  })

  it.each([
    ["a body that is not JSON", "{credentials"],
    ["a body without credentials", {}],
    ["credentials that are not an array", { credentials: { "conn-1": credential } }],
    ["a credential that is not an object", { credentials: [null] }],
    ["a credential without an access token", { credentials: [{ ...credential, access_token: undefined }] }],
    ["a credential without a token type", { credentials: [{ ...credential, token_type: undefined }] }],
    ["an expiry that is not a date", { credentials: [{ ...credential, expires_at: "tomorrow" }] }],
    ["an expiry without a timezone", { credentials: [{ ...credential, expires_at: "2026-01-01T00:00:00" }] }],
    ["scopes that are not an array of strings", { credentials: [{ ...credential, scopes: "repo" }] }],
  ])("reads %s as an invalid response without asking again", async (_what, body) => {
    const { source, seen } = await backend(always(200, body))
    const error = await failureOf(source.fetchOAuth(request))
    expect(tagOf(error)).toEqual({ reason: "invalid_response", connectionId: null })
    expect(seen).toHaveLength(1)
  })
})

describe("AgentopiaCredentialSource fetchToolSecrets", () => {
  const tool = { agentId: "agent-1", accountToolInstanceId: "ati-1" }

  it("posts to get-agent-tool-credentials and hands back redacted env vars, nulls skipped", async () => {
    const { source, seen } = await backend(always(200, { secrets: { API_KEY: "k-123", UNSET: null, region_2: "eu" } }))
    const env = await run(source.fetchToolSecrets(tool))
    expect(seen).toEqual([
      { url: "/functions/v1/get-agent-tool-credentials", authorization: `Bearer ${DTMA_TOKEN}`, contentType: "application/json", body: tool },
    ])
    expect(env.map((e) => [e.name, Redacted.value(e.value)])).toEqual([
      ["API_KEY", "k-123"],
      ["region_2", "eu"],
    ])
  })

  it.each([
    ["an invalid environment variable name", { secrets: { "NOT-AN-ENV": "v" } }],
    ["a value that is neither a string nor null", { secrets: { API_KEY: 42 } }],
    ["no secrets object", { secrets: ["API_KEY"] }],
  ])("reads %s as an invalid response", async (_what, body) => {
    const { source } = await backend(always(200, body))
    expect(tagOf(await failureOf(source.fetchToolSecrets(tool)))).toEqual({ reason: "invalid_response", connectionId: null })
  })

  it("reads a 404 with an error body as the tool not being in the toolbelt, without falling back", async () => {
    const { source, seen } = await backend(always(404, { error: "Tool not found in agent's toolbelt" }))
    expect(tagOf(await failureOf(source.fetchToolSecrets(tool)))).toEqual({ reason: "not_found", connectionId: null })
    expect(seen.map((s) => s.url)).toEqual(["/functions/v1/get-agent-tool-credentials"])
  })

  it.each([
    ["a gateway's function-not-found body", { code: "NOT_FOUND", message: "Requested function was not found" }],
    ["a plain-text body", "Not Found"],
    ["an empty body", undefined],
  ])("falls back to the older fetch-tool-secrets when the route answers 404 with %s", async (_what, missing) => {
    const { source, seen } = await backend((path) =>
      path === "fetch-tool-secrets" ? { status: 200, body: { secrets: { API_KEY: "k-123" } } } : { status: 404, body: missing },
    )
    const env = await run(source.fetchToolSecrets(tool))
    expect(env.map((e) => e.name)).toEqual(["API_KEY"])
    expect(seen.map((s) => [s.url, s.body])).toEqual([
      ["/functions/v1/get-agent-tool-credentials", tool],
      ["/functions/v1/fetch-tool-secrets", { tool_instance_db_id: "ati-1" }],
    ])
  })

  it("reads a 404 from the older route as not found", async () => {
    const { source, seen } = await backend(always(404, "Not Found"))
    expect(tagOf(await failureOf(source.fetchToolSecrets(tool)))).toEqual({ reason: "not_found", connectionId: null })
    expect(seen).toHaveLength(2)
  })

  it("reads a 401 as unauthorized without falling back or asking again", async () => {
    const { source, seen } = await backend(always(401, "unknown token"))
    expect(tagOf(await failureOf(source.fetchToolSecrets(tool)))).toEqual({ reason: "unauthorized", connectionId: null })
    expect(seen).toHaveLength(1)
  })

  it("retries a 503 and succeeds when the backend recovers", async () => {
    const { source, seen } = await backend((_path, n) => (n === 0 ? { status: 503 } : { status: 200, body: { secrets: {} } }))
    expect(await run(source.fetchToolSecrets(tool))).toEqual([])
    expect(seen).toHaveLength(2)
  })
})

describe("AgentopiaCredentialSource redaction", () => {
  // Bodies that echo the tokens on purpose: no failure may carry them on.
  const echo = { error: `bad ${DTMA_TOKEN}`, access_token: ACCESS_TOKEN, connection_id: "conn-1" }
  const failures: ReadonlyArray<readonly [string, Answer]> = [
    ...[400, 401, 403, 404, 409, 429, 500, 503].map((status) => [`a ${status} echoing the tokens`, always(status, echo)] as const),
    ["a 401 echoing the tokens as text", always(401, `${DTMA_TOKEN} ${ACCESS_TOKEN}`)],
    ["a body that is not JSON", always(200, `{"credentials":[{"access_token":"${ACCESS_TOKEN}"`)],
    ["a credential without a provider", always(200, { credentials: [{ ...credential, provider: undefined }] })],
    ["a credential with a bad expiry", always(200, { credentials: [{ ...credential, expires_at: ACCESS_TOKEN }] })],
    ["a secret with a token as its name", always(200, { secrets: { [ACCESS_TOKEN]: ACCESS_TOKEN } })],
    ["a backend that never answers", () => null],
  ]

  it.each(failures)("keeps both the DTMA token and access tokens out of the error for %s", async (_what, answer) => {
    const { source } = await backend(answer, { retries: 0, timeoutMs: 100 })
    const effects: ReadonlyArray<Effect.Effect<unknown, CredentialFetchFailed>> = [
      source.fetchOAuth(request),
      source.fetchToolSecrets({ agentId: "agent-1", accountToolInstanceId: "ati-1" }),
    ]
    for (const effect of effects) {
      const error = await failureOf(effect)
      for (const text of [error.message, JSON.stringify(error), String(error)]) {
        expect(text).not.toContain(DTMA_TOKEN)
        expect(text).not.toContain(ACCESS_TOKEN)
      }
    }
  })
})
