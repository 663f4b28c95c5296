import { InstanceNotFound, type JsonRpcId, type JsonRpcRequest, type McpServers } from "@dtma/domain"
import { isInitializeRequest, isJSONRPCRequest } from "@modelcontextprotocol/sdk/types.js"
import type { Context } from "koa"
import type { Logger } from "../logger.ts"
import { ClientSession } from "./ClientSession.ts"
import { acceptedPost, loneRequest } from "./postBody.ts"
import { jsonRpcError, replyForFailure, type ProxyReply } from "./proxyErrorTable.ts"
import { ServerHub } from "./ServerHub.ts"
import { DEFAULT_PROXY_SETTINGS, type McpProxySettings } from "./settings.ts"

export interface McpProxyDeps {
  readonly mcpServers: McpServers
  readonly logger: Logger
  readonly settings?: Partial<McpProxySettings>
}

/** The Streamable HTTP MCP endpoint in front of every managed MCP server. */
export interface McpProxy {
  /** Serves one HTTP request (POST, GET or DELETE) to the endpoint of server `name`. */
  handle(ctx: Context, name: string): Promise<void>
  /** Open client sessions, of one server or of all. */
  sessionCount(name?: string): number
  /** Ends every client session (at shutdown). */
  close(): void
}

const SESSION_NOT_FOUND: ProxyReply = { status: 404, headers: {}, body: jsonRpcError(null, -32001, "Session not found") }
const SESSION_REQUIRED: ProxyReply = { status: 400, headers: {}, body: jsonRpcError(null, -32000, "Bad Request: Mcp-Session-Id header is required") }

const requestIdsOf = (body: unknown): ReadonlyArray<JsonRpcId> =>
  (Array.isArray(body) ? body : [body]).flatMap((m: { id?: unknown; method?: unknown } | null) =>
    typeof m === "object" && m !== null && typeof m.method === "string" && (typeof m.id === "string" || typeof m.id === "number") ? [m.id] : [],
  )

export const makeMcpProxy = (deps: McpProxyDeps): McpProxy => {
  const settings: McpProxySettings = { ...DEFAULT_PROXY_SETTINGS, ...deps.settings }
  const sessions = new Map<string, ClientSession>()
  const hubs = new Map<string, ServerHub>()
  const { logger, mcpServers } = deps

  const hubFor = (name: string): ServerHub => {
    const hub = hubs.get(name) ?? new ServerHub({ name, mcpServers, timeoutMs: settings.requestTimeoutMs })
    hubs.set(name, hub)
    return hub
  }

  const newSession = (name: string): ClientSession =>
    new ClientSession({
      hub: hubFor(name),
      settings,
      logger,
      onOpen: (session) => {
        sessions.set(session.id, session)
        logger.info({ server: name, sessions: sessions.size }, "MCP proxy session opened")
      },
      onEnd: (session, reason) => {
        // Hubs stay (one per server name): a session still initializing may be about to join it.
        if (!sessions.delete(session.id)) return
        logger.info({ server: name, reason, sessions: sessions.size }, "MCP proxy session ended")
      },
    })

  const reply = (ctx: Context, r: ProxyReply): void => {
    ctx.status = r.status
    ctx.set(r.headers)
    ctx.body = r.body
  }

  const handle: McpProxy["handle"] = async (ctx, name) => {
    const body: unknown = ctx.request.body
    if (!mcpServers.isMcpServer(name)) {
      for (const s of sessions.values()) if (s.name === name) s.end("the server was removed")
      return reply(ctx, replyForFailure(new InstanceNotFound({ name }), requestIdsOf(body), Array.isArray(body)))
    }
    const posted = ctx.method === "POST" ? acceptedPost(ctx.headers, body) : null
    const sessionId = ctx.get("mcp-session-id")
    let session: ClientSession | undefined
    if (sessionId !== "") {
      session = sessions.get(sessionId)
      if (session?.name !== name) return reply(ctx, SESSION_NOT_FOUND)
    } else if (posted?.messages.some(isInitializeRequest) === true || (ctx.method === "POST" && posted === null)) {
      // An initialize, or a POST the transport will refuse with its own error.
      session = newSession(name)
    } else {
      return reply(ctx, SESSION_REQUIRED)
    }
    const requests = (posted?.messages ?? []).filter(isJSONRPCRequest) as ReadonlyArray<JsonRpcRequest>
    const outcome = session.start(requests)
    if ("refused" in outcome) {
      session.touch()
      return reply(ctx, replyForFailure(outcome.refused, requests.map((r) => r.id), posted?.batch === true))
    }
    ctx.respond = false
    const [alone] = sessionId !== "" && loneRequest(ctx.headers, posted) !== null ? outcome.started : []
    try {
      if (alone !== undefined) await session.answerJson(ctx.res, alone)
      else await session.serve(ctx.req, ctx.res, body, outcome.started)
    } catch (error) {
      logger.error({ server: name, error: String(error) }, "MCP proxy failed to serve a request (a bug)")
      if (!ctx.res.headersSent) ctx.res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify(jsonRpcError(null, -32603, "Internal error")))
    }
  }

  return {
    handle,
    sessionCount: (name) => [...sessions.values()].filter((s) => name === undefined || s.name === name).length,
    close: () => {
      for (const session of sessions.values()) session.end("the DTMA is shutting down")
    },
  }
}
