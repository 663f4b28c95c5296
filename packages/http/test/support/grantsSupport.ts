/* oxlint-disable unicorn/prefer-add-event-listener -- the SDK's Transport has callback properties, not events */
import { Effect, Redacted } from "effect"
import { completable } from "@modelcontextprotocol/sdk/server/completable.js"
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js"
import { ListToolsRequestSchema, SubscribeRequestSchema, UnsubscribeRequestSchema, type ServerNotification } from "@modelcontextprotocol/sdk/types.js"
import { expect } from "vitest"
import { z } from "zod"
import type { AgentIdentity, Grants } from "@dtma/domain"
import type { Config } from "../../src/composition/config.ts"
import type { ProxyTimers } from "../../src/mcpProxy/timers.ts"
import { mcpHeaders, sseMessages } from "./mcpProxySupport.ts"
import { McpServingRuntime, startTestApp, type TestApp } from "./support.ts"

export const GRANTS_IMAGE = "dtma/mcp-grants-fixture:1"
export const TWIN_IMAGE = "dtma/mcp-grants-twin:1"
export const FIXTURE_ATI = "ati-fixture"

/** The 2026-07-28 revision, as modern clients pin it. */
export const MODERN = "2026-07-28"
/** Every tool, prompt and resource of the fixture server. */
export const ALL: Grants = [{ target: { server: "fixture" }, tools: ["*"], prompts: ["*"], resources: true }]
/** Only the fixture's `echo`. */
export const ECHO_ONLY: Grants = [{ target: { server: "fixture" }, tools: ["echo"], prompts: [], resources: false }]

/** Every request and notification a server received, across every connection the DTMA opened to it. */
export class GrantsProbe {
  readonly seen: Array<{ readonly method: string; readonly params?: Readonly<Record<string, unknown>> }> = []
  /** Calls of the `hold` tool under way, by tag, until released or cancelled. */
  readonly held = new Map<string, () => void>()
  /** Tags of `hold` calls cancelled. */
  readonly cancelled: Array<string> = []

  /** The names and uris the server was asked about. */
  named(): ReadonlyArray<string> {
    return this.seen.flatMap(({ params }) => {
      const ref = params?.["ref"] as { name?: string; uri?: string } | undefined
      return [params?.["name"], params?.["uri"], ref?.name, ref?.uri].filter((n): n is string => typeof n === "string")
    })
  }
}

const TOOLS_PAGE = 3

const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const

/** What a tool of the fixture gets of its request. */
interface ToolExtra {
  readonly signal: AbortSignal
  readonly sendNotification: (notification: ServerNotification) => Promise<void>
}

/**
 * A real SDK server with tools, prompts, resources and a template, some of which an agent is not
 * granted in the tests. `secrets: false` makes its twin: the same server without the `secret` tool,
 * the `private` prompt, the `test://secret` resource and the `test://items/{id}` template, to ask
 * what a server answers for what it does not have. Its tools are listed three to a page.
 * `annotated: true` adds `locate`, whose arguments `region` and `where.zone` carry `x-mcp-header`
 * annotations (`Region`, `Zone`), and `broken`, whose annotation sits where none may (under `items`).
 */
export const grantsFixture = (probe: GrantsProbe, options: { readonly secrets: boolean; readonly annotated?: boolean }) => (): McpServer => {
  const server = new McpServer({ name: "grants-fixture", version: "1.0.0" }, { capabilities: { logging: {}, resources: { subscribe: true } } })
  const tools: Array<string> = []
  /** The `inputSchema` a tool is listed with, where it is not a bare object. */
  const schemas = new Map<string, Readonly<Record<string, unknown>>>()
  const tool = (name: string, shape: z.ZodRawShape, run: (args: Record<string, unknown>, extra: ToolExtra) => Promise<string> | string) => {
    tools.push(name)
    server.registerTool(name, { description: name, inputSchema: shape }, async (args: Record<string, unknown>, extra) => ({
      content: [{ type: "text" as const, text: await run(args, extra) }],
    }))
  }
  tool("echo", { text: z.string() }, ({ text }) => String(text))
  tool("touch", { uri: z.string() }, async ({ uri }) => {
    await server.server.sendResourceUpdated({ uri: String(uri) })
    return "touched"
  })
  // A log message about the call (sent as the call's own, where the transport keeps calls apart), or `aside` about nothing.
  tool("log", { text: z.string(), level: z.enum(LOG_LEVELS).optional(), aside: z.boolean().optional() }, async ({ text, level, aside }, extra) => {
    const params = { level: (level ?? "info") as (typeof LOG_LEVELS)[number], data: text }
    if (aside === true) await server.server.notification({ method: "notifications/message", params })
    else await extra.sendNotification({ method: "notifications/message", params })
    return "logged"
  })
  tool(
    "hold",
    { tag: z.string() },
    ({ tag }, { signal }) =>
      new Promise((resolve) => {
        probe.held.set(String(tag), () => resolve(`released ${String(tag)}`))
        signal.addEventListener("abort", () => {
          probe.held.delete(String(tag))
          probe.cancelled.push(String(tag))
          resolve("cancelled")
        })
      }),
  )
  tool("search_a", {}, () => "a")
  tool("search_b", {}, () => "b")
  if (options.secrets) tool("secret", {}, () => "the secret")
  if (options.annotated === true) {
    const where = z.object({ zone: z.number().int() }).optional()
    tool("locate", { region: z.string().nullable().optional(), where, query: z.string().optional() }, ({ region, where: w }) => {
      return `${String(region)} ${String((w as { zone?: number } | undefined)?.zone)}`
    })
    schemas.set("locate", {
      type: "object",
      properties: {
        region: { type: "string", "x-mcp-header": "Region" },
        where: { type: "object", properties: { zone: { type: "integer", "x-mcp-header": "Zone" } } },
        query: { type: "string" },
      },
    })
    tool("broken", { tags: z.array(z.string()).optional() }, () => "broken")
    schemas.set("broken", { type: "object", properties: { tags: { type: "array", items: { type: "string", "x-mcp-header": "Tag" } } } })
  }
  const names = (value: string) => ["ann", "bob"].filter((n) => n.startsWith(value))
  server.registerPrompt("greet", { argsSchema: { who: completable(z.string(), names) } }, ({ who }) => ({
    messages: [{ role: "user", content: { type: "text", text: `hello ${who}` } }],
  }))
  server.registerResource("open", "test://open", { mimeType: "text/plain" }, (uri) => ({ contents: [{ uri: uri.href, text: "open" }] }))
  if (options.secrets) {
    server.registerPrompt("private", { argsSchema: { who: completable(z.string(), names) } }, ({ who }) => ({
      messages: [{ role: "user", content: { type: "text", text: `psst ${who}` } }],
    }))
    server.registerResource("secret", "test://secret", { mimeType: "text/plain" }, (uri) => ({ contents: [{ uri: uri.href, text: "secret" }] }))
    const items = new ResourceTemplate("test://items/{id}", { list: undefined, complete: { id: (value) => ["1", "2"].filter((i) => i.startsWith(value)) } })
    server.registerResource("items", items, { mimeType: "text/plain" }, (uri) => ({ contents: [{ uri: uri.href, text: "item" }] }))
  }
  server.server.setRequestHandler(ListToolsRequestSchema, ({ params }) => {
    const start = Number(params?.cursor ?? 0)
    const page = tools
      .slice(start, start + TOOLS_PAGE)
      .map((name) => ({ name, description: name, inputSchema: { type: "object" as const, ...schemas.get(name) } }))
    return start + TOOLS_PAGE < tools.length ? { tools: page, nextCursor: String(start + TOOLS_PAGE) } : { tools: page }
  })
  server.server.setRequestHandler(SubscribeRequestSchema, () => ({}))
  server.server.setRequestHandler(UnsubscribeRequestSchema, () => ({}))
  const connect = server.connect.bind(server)
  server.connect = async (transport) => {
    await connect(transport)
    const deliver = transport.onmessage
    transport.onmessage = (message, extra) => {
      if ("method" in message) probe.seen.push({ method: message.method, ...(message.params === undefined ? {} : { params: message.params }) })
      deliver?.(message, extra)
    }
  }
  return server
}

/** A clock for the proxy's deadlines that moves only when told to. */
export class ManualTimers implements ProxyTimers {
  #now = Date.now()
  #due: Array<{ readonly time: number; readonly fn: () => void; cancelled: boolean }> = []

  now(): number {
    return this.#now
  }

  at(time: number, fn: () => void): () => void {
    const entry = { time, fn, cancelled: false }
    this.#due.push(entry)
    return () => void (entry.cancelled = true)
  }

  /** Moves the clock to `time`, running, in their order, the deadlines reached. */
  advanceTo(time: number): void {
    this.#now = Math.max(this.#now, time)
    const reached = this.#due.filter((d) => d.time <= this.#now).sort((a, b) => a.time - b.time)
    this.#due = this.#due.filter((d) => d.time > this.#now)
    for (const d of reached) if (!d.cancelled) d.fn()
  }
}

export interface GrantsApp extends TestApp {
  readonly probe: GrantsProbe
  readonly twinProbe: GrantsProbe
  /** The proxied endpoint of server `name`. */
  endpoint(name?: string): string
  /** A token the app accepts for agent `sub` (default `agent-1`, issuer `https://issuer.fake`). */
  mint(grants: Grants, options?: { readonly sub?: string; readonly ttlSeconds?: number; readonly issuer?: string }): Promise<string>
  /** The agent a token speaks for. */
  identityOf(token: string): Promise<AgentIdentity>
}

/**
 * The DTMA over the fakes with `fixture` (the grants fixture, account tool instance `ati-fixture`) and `twin` (its twin) deployed.
 * `annotatedTools`: the fixture has the tools whose arguments carry `x-mcp-header` annotations (see `grantsFixture`).
 */
export const startGrantsApp = async (
  options: { readonly proxyTimers?: ProxyTimers; readonly config?: Partial<Config>; readonly annotatedTools?: boolean } = {},
): Promise<GrantsApp> => {
  const probe = new GrantsProbe()
  const twinProbe = new GrantsProbe()
  const runtime = new McpServingRuntime({ images: [GRANTS_IMAGE, TWIN_IMAGE] })
  const { annotatedTools, ...appOptions } = options
  runtime.servers.set(GRANTS_IMAGE, grantsFixture(probe, { secrets: true, annotated: annotatedTools === true }))
  runtime.servers.set(TWIN_IMAGE, grantsFixture(twinProbe, { secrets: false }))
  const app = await startTestApp({ runtime, ...appOptions })
  for (const [name, image, ati] of [
    ["fixture", GRANTS_IMAGE, FIXTURE_ATI],
    ["twin", TWIN_IMAGE, null],
  ] as const) {
    const mcp = { transport: "stdio", endpointPath: null, port: null } as const
    await Effect.runPromise(app.mcpServers.deploy({ name, accountToolInstanceId: ati, image, env: [], ports: [], mcp }))
  }
  return {
    ...app,
    probe,
    twinProbe,
    endpoint: (name = "fixture") => `${app.base}/mcp-servers/${encodeURIComponent(name)}/mcp`,
    mint: (grants, o = {}) =>
      Effect.runPromise(
        app.agentAccess.tokens.mint({
          sub: o.sub ?? "agent-1",
          grants,
          ttlSeconds: o.ttlSeconds ?? 900,
          ...(o.issuer === undefined ? {} : { issuer: o.issuer }),
        }),
      ),
    identityOf: (token) => Effect.runPromise(app.agentAccess.access.verify(Redacted.make(token))),
  }
}

export const INITIALIZE = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
}

const inSession = (sessionId: string, token: string) => ({ ...mcpHeaders(sessionId, token), "mcp-protocol-version": "2025-11-25" })

/** Opens a session of `token`'s caller on `endpoint`; its id. */
export const openSession = async (endpoint: string, token: string): Promise<string> => {
  const res = await fetch(endpoint, { method: "POST", headers: mcpHeaders(undefined, token), body: JSON.stringify(INITIALIZE) })
  expect(res.status).toBe(200)
  await res.text()
  return res.headers.get("mcp-session-id")!
}

/** POSTs `message` on a session under `token`. */
export const postIn = (endpoint: string, sessionId: string, token: string, message: unknown): Promise<Response> =>
  fetch(endpoint, { method: "POST", headers: inSession(sessionId, token), body: JSON.stringify(message) })

/** The answer to the one request of a POST, whichever form it came in. */
export const answerOf = async (res: Response): Promise<Record<string, unknown>> => {
  if (res.headers.get("content-type")?.startsWith("application/json")) return (await res.json()) as Record<string, unknown>
  const answers = (await sseMessages(res)).filter((m) => "id" in m)
  return answers[0]!
}

/** A request's answer on a session. */
export const ask = async (endpoint: string, sessionId: string, token: string, method: string, params: unknown = {}, id: number = 1) =>
  answerOf(await postIn(endpoint, sessionId, token, { jsonrpc: "2.0", id, method, params }))

export interface Stream {
  readonly status: number
  /** The messages it carried so far. */
  readonly messages: Array<Record<string, unknown>>
  /** Resolves when the DTMA ends it. */
  readonly ended: Promise<true>
}

/** Reads an event stream as it comes. */
export const readStream = (res: Response): Stream => {
  const messages: Array<Record<string, unknown>> = []
  const read = async (): Promise<true> => {
    if (res.body === null) return true
    let buffer = ""
    try {
      for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
        buffer += chunk
        const events = buffer.split("\n\n")
        buffer = events.pop() ?? ""
        for (const event of events) for (const line of event.split("\n")) if (line.startsWith("data: ")) messages.push(JSON.parse(line.slice(6)))
      }
    } catch {
      // a stream cut off is ended too
    }
    return true
  }
  return { status: res.status, messages, ended: read() }
}

/** Opens the session's notification stream (GET) under `token`. */
export const listen = async (endpoint: string, sessionId: string, token: string): Promise<Stream> =>
  readStream(await fetch(endpoint, { method: "GET", headers: { ...inSession(sessionId, token), accept: "text/event-stream" } }))

/** Resolves to `still open` when `stream` has not ended after `ms` (a check that cannot fail by slowness). */
export const stillOpen = (stream: Stream, ms = 50): Promise<true | "still open"> =>
  Promise.race([stream.ended, new Promise<"still open">((resolve) => setTimeout(() => resolve("still open"), ms))])
