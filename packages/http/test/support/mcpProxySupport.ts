import type { Tracer } from "@opentelemetry/api"
import { Effect } from "effect"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import {
  ElicitRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type ElicitRequest,
  type ElicitResult,
} from "@modelcontextprotocol/sdk/types.js"
import { z } from "zod"
import type { McpConfig } from "../../src/composition/mcpConfig.ts"
import { DEFAULT_MCP_CONFIG } from "../../src/composition/mcpConfig.ts"
import { McpServingRuntime, startTestApp, TOKEN, type TestApp } from "./support.ts"

export const PROXY_IMAGE = "dtma/mcp-proxy-fixture:1"

/** What the fixture server saw, across every connection the DTMA opened to it. */
export class ServerProbe {
  readonly cancelled: Array<string> = []
  readonly subscribed: Array<string> = []
  readonly unsubscribed: Array<string> = []
  readonly waiting = new Set<string>()
  /** Calls of the `hold` tool, by tag, until `release`d. */
  readonly held = new Map<string, () => void>()
  /** The `_meta` of every `echo` call, as the server received it. */
  readonly echoMeta: Array<Record<string, unknown> | undefined> = []
  connections = 0

  release(tag: string): void {
    this.held.get(tag)?.()
    this.held.delete(tag)
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A real SDK server with what the proxy must carry: plain tools, progress, a call that waits until
 * cancelled, a tool that changes the tool list, resource subscriptions and log messages.
 */
export const fixtureServer = (probe: ServerProbe) => (): McpServer => {
  probe.connections++
  const server = new McpServer(
    { name: "fixture", version: "3.1.4" },
    { capabilities: { logging: {}, resources: { subscribe: true } }, instructions: "Use the echo tool." },
  )
  server.registerTool("echo", { description: "Answers its text.", inputSchema: { text: z.string() } }, ({ text }, extra) => {
    probe.echoMeta.push(extra._meta)
    return { content: [{ type: "text", text }] }
  })
  server.registerTool("add", { description: "Adds two numbers.", inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({
    content: [{ type: "text", text: String(a + b) }],
  }))
  server.registerTool(
    "count",
    { description: "Reports progress, tagged.", inputSchema: { tag: z.string(), steps: z.number() } },
    async ({ tag, steps }, extra) => {
      const token = extra._meta?.progressToken
      for (let i = 1; i <= steps; i++) {
        await sleep(5)
        if (token !== undefined)
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken: token, progress: i, total: steps, message: `${tag}-${i}` },
          })
      }
      return { content: [{ type: "text", text: `${tag} done` }] }
    },
  )
  server.registerTool(
    "wait",
    { description: "Waits until cancelled.", inputSchema: { tag: z.string() } },
    ({ tag }, extra) =>
      new Promise((resolve) => {
        probe.waiting.add(tag)
        extra.signal.addEventListener("abort", () => {
          probe.waiting.delete(tag)
          probe.cancelled.push(tag)
          resolve({ content: [{ type: "text", text: "cancelled" }] })
        })
      }),
  )
  server.registerTool(
    "hold",
    { description: "Answers once the test releases it.", inputSchema: { tag: z.string() } },
    ({ tag }) => new Promise((resolve) => probe.held.set(tag, () => resolve({ content: [{ type: "text", text: `released ${tag}` }] }))),
  )
  let added = 0
  server.registerTool("add-tool", { description: "Registers one more tool (the list changes)." }, () => {
    server.registerTool(`extra-${++added}`, { description: "Added at run time." }, () => ({ content: [{ type: "text", text: "extra" }] }))
    return { content: [{ type: "text", text: `extra-${added}` }] }
  })
  server.registerTool("touch", { description: "Says a resource changed.", inputSchema: { uri: z.string() } }, async ({ uri }) => {
    await server.server.sendResourceUpdated({ uri })
    return { content: [{ type: "text", text: "touched" }] }
  })
  server.registerTool("log", { description: "Writes a log message.", inputSchema: { text: z.string() } }, async ({ text }) => {
    await server.sendLoggingMessage({ level: "info", data: text })
    return { content: [{ type: "text", text: "logged" }] }
  })
  server.registerResource("a", "test://a", { mimeType: "text/plain" }, (uri) => ({ contents: [{ uri: uri.href, text: "a" }] }))
  server.registerResource("b", "test://b", { mimeType: "text/plain" }, (uri) => ({ contents: [{ uri: uri.href, text: "b" }] }))
  server.server.setRequestHandler(SubscribeRequestSchema, ({ params }) => {
    probe.subscribed.push(params.uri)
    return {}
  })
  server.server.setRequestHandler(UnsubscribeRequestSchema, ({ params }) => {
    probe.unsubscribed.push(params.uri)
    return {}
  })
  return server
}

/** A client connected straight to a fresh fixture server, to compare the proxy with. */
export const directClient = async (probe: ServerProbe): Promise<Client> => {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  await fixtureServer(probe)().connect(serverSide)
  const client = new Client({ name: "direct", version: "1.0.0" })
  await client.connect(clientSide)
  return client
}

export interface ProxyClient {
  readonly client: Client
  readonly transport: StreamableHTTPClientTransport
  /** The ids of the requests this client POSTed. */
  readonly requestIds: Array<unknown>
  /** Resolves once the standalone GET stream (server notifications) is open. */
  readonly streamOpen: Promise<void>
}

/**
 * An SDK client through the proxied endpoint at `url`; with `elicit`, it declares elicitation and
 * answers each elicitation it is asked with what `elicit` gives for the request's params.
 */
export const proxyClient = async (
  url: string,
  token: string = TOKEN,
  options: { readonly elicit?: (params: ElicitRequest["params"]) => ElicitResult } = {},
): Promise<ProxyClient> => {
  const requestIds: Array<unknown> = []
  let opened: () => void = () => {}
  const streamOpen = new Promise<void>((resolve) => (opened = resolve))
  const recordingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if (init?.method === "POST" && typeof init.body === "string") {
      const message = JSON.parse(init.body) as { id?: unknown }
      if (message.id !== undefined) requestIds.push(message.id)
    }
    const response = await fetch(input, init)
    if (init?.method === "GET" && response.ok) opened()
    return response
  }
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } }, fetch: recordingFetch })
  const elicit = options.elicit
  const client = new Client({ name: "proxy-test", version: "1.0.0" }, elicit === undefined ? {} : { capabilities: { elicitation: {} } })
  if (elicit !== undefined) client.setRequestHandler(ElicitRequestSchema, async (request) => elicit(request.params))
  await client.connect(transport)
  return { client, transport, requestIds, streamOpen }
}

export interface ProxyApp extends TestApp {
  readonly probe: ServerProbe
  /** The proxied endpoint of server `name`. */
  endpoint(name?: string): string
}

/** The DTMA over the fakes with the fixture server deployed as `fixture` (stdio); its spans go to `tracer`, when given. */
export const startProxyApp = async (mcp: Partial<McpConfig> = {}, options: { readonly tracer?: Tracer } = {}): Promise<ProxyApp> => {
  const probe = new ServerProbe()
  const runtime = new McpServingRuntime({ images: [PROXY_IMAGE] })
  runtime.servers.set(PROXY_IMAGE, fixtureServer(probe))
  // Pings would take the single slot of the saturation tests: push them out of the way.
  const app = await startTestApp({
    runtime,
    tracer: options.tracer,
    config: { mcp: { ...DEFAULT_MCP_CONFIG, pingBaseMs: 600_000, pingMaxMs: 600_000, ...mcp } },
  })
  await Effect.runPromise(
    app.mcpServers.deploy({
      name: "fixture",
      accountToolInstanceId: null,
      image: PROXY_IMAGE,
      env: [],
      ports: [],
      mcp: { transport: "stdio", endpointPath: null, port: null },
    }),
  )
  return { ...app, probe, endpoint: (name = "fixture") => `${app.base}/mcp-servers/${encodeURIComponent(name)}/mcp` }
}

/** Polls `check` until it passes (or throws its last failure after `timeoutMs`). */
export const eventually = async (check: () => void | Promise<void>, timeoutMs = 3_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(10)
    }
  }
}

/** Headers for a hand-made request to the endpoint. */
export const mcpHeaders = (sessionId?: string, token: string = TOKEN): Record<string, string> => ({
  authorization: `Bearer ${token}`,
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  ...(sessionId === undefined ? {} : { "mcp-session-id": sessionId }),
})

/** The JSON-RPC messages of an SSE response body (a POST's stream ends after its answers). */
export const sseMessages = async (res: Response): Promise<Array<Record<string, unknown>>> =>
  (await res.text())
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => JSON.parse(line.slice("data: ".length)) as Record<string, unknown>)
