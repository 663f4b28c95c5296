import { ErrorCodes, InstanceNotFound, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest, type McpServerGone, type McpServers } from "@dtma/domain"
import { isInitializeRequest, isJSONRPCRequest } from "@modelcontextprotocol/sdk/types.js"
import type { Context } from "koa"
import type { Logger } from "../logger.ts"
import { ClientSession } from "./ClientSession.ts"
import { acceptedPost, loneRequest } from "./postBody.ts"
import { jsonRpcError, replyForFailure, type ProxyReply } from "./proxyErrorTable.ts"
import { ServerHub } from "./ServerHub.ts"
import { SessionLimitReached } from "./SessionLimitReached.ts"
import { DEFAULT_PROXY_SETTINGS, type McpProxySettings } from "./settings.ts"

export interface McpProxyDeps {
  readonly mcpServers: McpServers
  readonly logger: Logger
  readonly settings?: Partial<McpProxySettings>
}

/** What `/metrics` reports of the proxy's client sessions. */
export interface McpSessionStats {
  /** Open client sessions by server name (servers with none are left out). */
  readonly open: ReadonlyMap<string, number>
  /** New sessions refused since start, by the bound they would have passed. */
  readonly refused: Readonly<Record<SessionLimitReached["scope"], number>>
}

/** The Streamable HTTP MCP endpoint in front of every managed MCP server. */
export interface McpProxy {
  /** Serves one HTTP request (POST, GET or DELETE) to the endpoint of server `name`. */
  handle(ctx: Context, name: string): Promise<void>
  /** Open client sessions, of one server or of all. */
  sessionCount(name?: string): number
  sessionStats(): McpSessionStats
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
  // Sessions whose initialize is under way: they count against the bounds before they open.
  const opening = new Set<ClientSession>()
  const refused = { per_server: 0, total: 0 }
  const hubs = new Map<string, ServerHub>()
  const { logger, mcpServers } = deps

  const hubFor = (name: string): ServerHub => {
    const hub = hubs.get(name) ?? new ServerHub({ name, mcpServers, timeoutMs: settings.requestTimeoutMs })
    hubs.set(name, hub)
    return hub
  }

  const countOf = (name?: string): number => {
    let n = 0
    for (const s of sessions.values()) if (name === undefined || s.name === name) n++
    for (const s of opening) if (name === undefined || s.name === name) n++
    return n
  }

  /** Refuses a new session of `name` that would pass a bound. */
  const admit = (name: string): SessionLimitReached | null => {
    const limit =
      countOf(name) >= settings.maxSessionsPerServer ? new SessionLimitReached({ name, limit: settings.maxSessionsPerServer, scope: "per_server" })
      : sessions.size + opening.size >= settings.maxSessions ? new SessionLimitReached({ name, limit: settings.maxSessions, scope: "total" })
      : null
    if (limit !== null) {
      refused[limit.scope]++
      logger.warn({ server: name, limit: limit.limit, scope: limit.scope }, "MCP proxy refused a client session: too many")
    }
    return limit
  }

  const newSession = (name: string): ClientSession => {
    const session: ClientSession = new ClientSession({
      hub: hubFor(name),
      settings,
      logger,
      onOpen: () => {
        opening.delete(session)
        if (session.retiring) return
        sessions.set(session.id, session)
        logger.info({ server: name, sessions: sessions.size }, "MCP proxy session opened")
      },
      onEnd: (_, reason) => {
        opening.delete(session)
        if (!sessions.delete(session.id) && !session.retiring) return
        logger.info({ server: name, reason, sessions: sessions.size }, "MCP proxy session ended")
      },
    })
    opening.add(session)
    return session
  }

  // The sessions of a server that is gone, or replaced by a different one, must not reach whatever
  // serves the name next: they get 404 from now on (clients initialize again), and end once their
  // requests in flight are answered. A fresh hub serves the name's new sessions.
  const unsubscribeGone = mcpServers.subscribeGone(({ name, reason }: McpServerGone) => {
    const why = reason === "removed" ? "the server was removed" : "a different server replaced it"
    hubs.get(name)?.retire()
    hubs.delete(name)
    for (const session of [...sessions.values(), ...opening]) {
      if (session.name !== name) continue
      sessions.delete(session.id)
      session.retire(why)
    }
  })

  const reply = (ctx: Context, r: ProxyReply): void => {
    ctx.status = r.status
    ctx.set(r.headers)
    ctx.body = r.body
  }

  const handle: McpProxy["handle"] = async (ctx, name) => {
    const body: unknown = ctx.request.body
    if (!mcpServers.isMcpServer(name)) return reply(ctx, replyForFailure(new InstanceNotFound({ name }), requestIdsOf(body), Array.isArray(body)))
    const read = ctx.method === "POST" ? acceptedPost(ctx.headers, body) : null
    if (read !== null && "invalid" in read) return reply(ctx, { status: 400, headers: {}, body: jsonRpcError(null, ErrorCodes.InvalidRequest, read.invalid) })
    const posted = read
    const sessionId = ctx.get("mcp-session-id")
    let session: ClientSession | undefined
    if (sessionId !== "") {
      session = sessions.get(sessionId)
      if (session?.name !== name) return reply(ctx, SESSION_NOT_FOUND)
    } else if (posted?.messages.some(isInitializeRequest) === true || (ctx.method === "POST" && posted === null)) {
      // An initialize, or a POST the transport will refuse with its own error.
      const limit = admit(name)
      if (limit !== null) return reply(ctx, replyForFailure(limit, requestIdsOf(body), posted?.batch === true))
      session = newSession(name)
    } else {
      return reply(ctx, SESSION_REQUIRED)
    }
    const requests = (posted?.messages ?? []).filter(isJSONRPCRequest) as ReadonlyArray<JsonRpcRequest>
    const outcome = session.start(requests)
    if ("refused" in outcome) {
      opening.delete(session)
      session.touch()
      return reply(ctx, replyForFailure(outcome.refused, requests.map((r) => r.id), posted?.batch === true))
    }
    ctx.respond = false
    const [alone] = sessionId !== "" && loneRequest(posted) !== null ? outcome.started : []
    try {
      if (sessionId !== "" && posted !== null && outcome.duplicates.length > 0) {
        const others = posted.messages.filter((m) => !isJSONRPCRequest(m)) as ReadonlyArray<JsonRpcMessage>
        await session.answerJson(ctx.res, outcome.started, { batch: posted.batch, refusals: outcome.duplicates, others })
      } else if (alone !== undefined) await session.answerJson(ctx.res, [alone])
      else await session.serve(ctx.req, ctx.res, body, outcome.started)
    } catch (error) {
      logger.error({ server: name, error: String(error) }, "MCP proxy failed to serve a request (a bug)")
      if (!ctx.res.headersSent) ctx.res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify(jsonRpcError(null, -32603, "Internal error")))
    } finally {
      // An initialize the transport refused: the session never opened.
      opening.delete(session)
    }
  }

  return {
    handle,
    sessionCount: (name) => [...sessions.values()].filter((s) => name === undefined || s.name === name).length,
    sessionStats: () => {
      const open = new Map<string, number>()
      for (const s of sessions.values()) open.set(s.name, (open.get(s.name) ?? 0) + 1)
      return { open, refused: { ...refused } }
    },
    close: () => {
      unsubscribeGone()
      for (const session of sessions.values()) session.end("the DTMA is shutting down")
    },
  }
}
