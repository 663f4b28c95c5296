import { connect } from "node:net"
import { Effect } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { MCP_PROXY_PATH } from "../../src/mcpProxy/mountMcpProxy.ts"
import { ROUTES } from "../../src/routes/routeTable.ts"
import { requestArb, STANDING_MCP, STANDING_TOOL, type RawRequest } from "../support/fuzzArbitraries.ts"
import { deployBody, mcpBody, startTestApp, TOKEN, type TestApp } from "../support/support.ts"

// 2,000 generated requests in all: 1,600 anywhere, 400 with a body on the routes that read one.
const RUNS_ANYWHERE = 1600
const RUNS_WITH_BODY = 400
const REQUEST_TIMEOUT_MS = 10_000

interface RawResponse {
  readonly status: number
  readonly contentType: string
  readonly text: string
}

const HEAD_END = Buffer.from("\r\n\r\n")

const dechunk = (raw: Buffer): Buffer => {
  const parts: Array<Buffer> = []
  let at = 0
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at)
    if (lineEnd < 0) break
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString("latin1"), 16)
    if (!Number.isFinite(size) || size === 0) break
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

/** The response in `raw`, or null while its head is incomplete. */
const parseResponse = (raw: Buffer): (RawResponse & { readonly stream: boolean }) | null => {
  const headEnd = raw.indexOf(HEAD_END)
  if (headEnd < 0) return null
  const [statusLine = "", ...lines] = raw.subarray(0, headEnd).toString("latin1").split("\r\n")
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(":")).trim().toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]))
  const contentType = headers.get("content-type") ?? ""
  const rest = raw.subarray(headEnd + 4)
  const body = headers.get("transfer-encoding")?.includes("chunked") === true ? dechunk(rest) : rest
  return { status: Number(statusLine.split(" ")[1]), contentType, text: body.toString("utf8"), stream: contentType.includes("text/event-stream") }
}

/**
 * Sends `req` byte for byte on a fresh connection (fetch would normalise `..` and `%2e%2e` away) and
 * reads the answer until the server closes. A write cut short (the server answered 413 or 401
 * without reading an oversized body) is no failure when the answer came.
 */
const send = (base: string, req: RawRequest): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base)
    const headers: Record<string, string> = { host: `${hostname}:${port}`, connection: "close", ...req.headers }
    if (req.body !== null) headers["content-length"] = String(req.body.length)
    const head = `${req.method} ${req.path} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("")}\r\n`
    const socket = connect({ host: hostname, port: Number(port) })
    const chunks: Array<Buffer> = []
    let settled = false
    const finish = (error?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const res = parseResponse(Buffer.concat(chunks))
      if (res !== null) resolve(res)
      else reject(new Error(`no HTTP answer${error === undefined ? " before the connection closed" : `: ${error.message}`}`))
    }
    const timer = setTimeout(() => finish(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS)
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      // An MCP stream stays open: its status and headers are all this test reads.
      if (parseResponse(Buffer.concat(chunks))?.stream === true) finish()
    })
    socket.on("end", () => finish())
    socket.on("close", () => finish())
    socket.on("error", (error) => finish(error))
    socket.write(req.body === null ? Buffer.from(head, "latin1") : Buffer.concat([Buffer.from(head, "latin1"), req.body]))
  })

// Bytes outside printable ASCII are shown as \xNN: fast-check's report prints them raw and invisible.
const visible = (text: string): string => text.replace(/[^\x21-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)

const describeRequest = (req: RawRequest): string =>
  `${req.method} ${visible(req.path.length > 200 ? `${req.path.slice(0, 200)}…(${req.path.length} chars)` : req.path)} ` +
  `headers=${JSON.stringify(req.headers)} body=${req.body === null ? "none" : `${req.body.length} bytes: ${req.body.subarray(0, 120).toString("latin1")}`}`

const isProxyRequest = (req: RawRequest): boolean => req.template === MCP_PROXY_PATH

/** A JSON error saying what is wrong: `{ error: "…" }`, or a JSON-RPC error on the MCP endpoint. */
const hasJsonError = (req: RawRequest, res: RawResponse): boolean => {
  let body: unknown
  try {
    body = JSON.parse(res.text)
  } catch {
    return false
  }
  if (typeof body !== "object" || body === null) return false
  const error = (body as { error?: unknown }).error
  if (typeof error === "string") return error.length > 0
  // The MCP endpoint answers JSON-RPC errors: one object, or one per request of a batch.
  const isJsonRpcError = (item: unknown): boolean => {
    if (typeof item !== "object" || item === null || (item as { jsonrpc?: unknown }).jsonrpc !== "2.0") return false
    const message = (item as { error?: { message?: unknown } | null }).error?.message
    return typeof message === "string" && message.length > 0
  }
  if (!isProxyRequest(req)) return false
  return Array.isArray(body) ? body.length > 0 && body.every(isJsonRpcError) : isJsonRpcError(body)
}

/** What the DTMA manages: containers in the runtime and MCP servers, without health timings. */
const snapshot = async (app: TestApp) => ({
  containers: (await Effect.runPromise(app.runtime.list())).map((c) => `${c.name}|${c.containerId}|${c.kind}|${c.image}|${c.state}`).sort(),
  mcpServers: app.mcpServers
    .list()
    .map((s) => `${s.instanceName}|${s.containerId}|${s.image}|${s.transportType}|${s.containerState}`)
    .sort(),
})

/** Puts back the standing tool and MCP server when an earlier case removed or stopped them. */
const ensureStanding = async (app: TestApp): Promise<void> => {
  const containers = await Effect.runPromise(app.runtime.list())
  const tool = containers.find((c) => c.name === STANDING_TOOL)
  if (tool === undefined) expect((await app.json("POST", "/tools", deployBody({ instanceNameOnToolbox: STANDING_TOOL }))).status).toBe(201)
  else if (tool.state !== "running") expect((await app.json("POST", `/tools/${STANDING_TOOL}/start`)).status).toBe(200)
  const mcp = app.mcpServers.list().find((s) => s.instanceName === STANDING_MCP)
  if (mcp === undefined) expect((await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: STANDING_MCP }))).status).toBe(201)
  else if (mcp.containerState !== "running") expect((await app.json("POST", `/mcp-servers/${STANDING_MCP}/start`)).status).toBe(200)
}

/** Fails the property with `message`, which names the request and the answer. */
const must = (condition: boolean, message: string): void => {
  if (!condition) throw new Error(message)
}

/**
 * The property of every request: below 500, a JSON error on every 4xx, the managed state untouched
 * by a rejected request, and the server still answering /health.
 */
const checkRequest = async (app: TestApp, req: RawRequest): Promise<void> => {
  await ensureStanding(app)
  const before = await snapshot(app)
  const res = await send(app.base, req)
  const what = `${describeRequest(req)} → ${res.status} ${res.contentType} ${res.text.slice(0, 300)}`
  must(res.status >= 200 && res.status < 500, `status outside 2xx-4xx: ${what}`)
  if (res.status >= 400 && req.method !== "HEAD") must(hasJsonError(req, res), `4xx without a JSON error: ${what}`)
  if (res.status >= 400) expect(await snapshot(app), `state changed by a rejected request: ${what}`).toEqual(before)
  const health = await fetch(`${app.base}/health`)
  must(health.status === 200 && (await health.text()) === "OK", `/health not OK after ${what}`)
}

describe("the HTTP API under arbitrary requests", () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp()
    await ensureStanding(app)
  })
  afterAll(() => app.close())

  it("answers any method, path, header and body below 500, with a JSON error on every 4xx, leaving state untouched on rejection", async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, (req) => checkRequest(app, req)),
      { numRuns: RUNS_ANYWHERE },
    )
  }, 120_000)

  it("answers any body sent to a route that reads one below 500, with a JSON error on every 4xx, leaving state untouched on rejection", async () => {
    const reading = ["/tools", "/mcp-servers", "/mcp/groups", `/mcp-servers/${STANDING_MCP}/redeploy`, `/mcp-servers/${STANDING_MCP}/mcp`]
    const withBody = requestArb
      .filter((req) => req.body !== null)
      .chain((req) => fc.constantFrom(...reading).map((path) => ({ ...req, method: "POST", path, template: path.endsWith("/mcp") ? MCP_PROXY_PATH : path })))
    await fc.assert(
      fc.asyncProperty(withBody, (req) => checkRequest(app, req)),
      { numRuns: RUNS_WITH_BODY },
    )
  }, 120_000)
})

// The auth matrix: every route, the MCP endpoint too, under four kinds of Authorization header.
const AUTH_CASES = [
  { label: "no header", header: undefined },
  { label: "a malformed header", header: "Basic x" },
  { label: "an unknown token", header: "Bearer wrong" },
  { label: "the right token", header: `Bearer ${TOKEN}` },
] as const

const concrete = (path: string): string => path.replace(":name", STANDING_MCP).replace(":groupId", "no-such-group")
const ENDPOINTS = [
  ...ROUTES.map((r) => ({ method: r.method, path: r.path, public: r.public })),
  ...["GET", "POST", "DELETE"].map((method) => ({ method, path: MCP_PROXY_PATH, public: false })),
]

describe("the auth matrix", () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp()
  })
  afterAll(() => app.close())

  for (const endpoint of ENDPOINTS) {
    for (const auth of AUTH_CASES) {
      // An unknown token is a legacy 403 on management routes, an invalid token (401) on the MCP endpoint.
      const expected = endpoint.public
        ? "never 401 or 403"
        : auth.header === undefined || auth.header === "Basic x"
          ? "401"
          : auth.header === "Bearer wrong"
            ? endpoint.path === MCP_PROXY_PATH
              ? "401"
              : "403"
            : "neither 401 nor 403"
      it(`answers ${endpoint.method} ${endpoint.path} with ${auth.label}: ${expected}`, async () => {
        await ensureStanding(app)
        // Each path names a standing instance of its kind, so that the right token reaches the use case.
        const path = concrete(endpoint.path)
        const res = await send(app.base, {
          method: endpoint.method,
          path: path.startsWith("/tools/") ? path.replace(STANDING_MCP, STANDING_TOOL) : path,
          template: endpoint.path,
          headers: {
            ...(auth.header === undefined ? {} : { authorization: auth.header }),
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
          },
          body: endpoint.method === "POST" ? Buffer.from("{}") : null,
        })
        if (endpoint.public) expect([401, 403]).not.toContain(res.status)
        else if (expected === "401") expect(res.status).toBe(401)
        else if (expected === "403") expect(res.status).toBe(403)
        else expect([401, 403]).not.toContain(res.status)
        expect(res.status).toBeLessThan(500)
      })
    }
  }
})

// Found by the fuzzer: Node's HTTP parser refuses these before Koa runs, and with no `clientError`
// handler on the server (createApp(...).listen in main.ts) its default answer is a bare 400/431
// with no body at all, not a JSON error.
describe("requests Node's HTTP parser refuses", () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp()
  })
  afterAll(() => app.close())

  const cases: ReadonlyArray<{ readonly label: string; readonly method: string; readonly path: string }> = [
    { label: "a request target with a raw non-ASCII byte (0xCA)", method: "GET", path: "/health?\u00ca" },
    { label: "a request target of 20,000 characters", method: "GET", path: `/tools/${"a".repeat(20_000)}` },
    { label: "a method llhttp does not know", method: "FUZZ", path: "/health" },
  ]
  for (const c of cases) {
    it(`answers ${c.label} with a JSON error`, async () => {
      const req: RawRequest = { method: c.method, path: c.path, template: null, headers: { authorization: `Bearer ${TOKEN}` }, body: null }
      const res = await send(app.base, req)
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.status).toBeLessThan(500)
      must(hasJsonError(req, res), `${res.status} ${JSON.stringify(res.contentType)} ${JSON.stringify(res.text)}`)
    })
  }
})
