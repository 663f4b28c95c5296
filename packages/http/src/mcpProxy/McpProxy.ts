import { ROOT_CONTEXT, type Tracer } from "@opentelemetry/api"
import {
  ErrorCodes,
  InstanceNotFound,
  isRequest,
  type AgentAccess,
  type JsonRpcId,
  type JsonRpcRequest,
  type McpServerGone,
  type McpServers,
  type Revocation,
  ruleAllows,
} from "@dtma/domain"
import type { Context } from "koa"
import type { Logger } from "../composition/logger.ts"
import { requestStateOf } from "../server/requestState.ts"
import { globalTracer } from "../server/traceContext.ts"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { NO_TALLY } from "./callTally.ts"
import { AGENT_SERVER_INFO } from "./agentAnswers.ts"
import { eraOf, type Era } from "./eraOf.ts"
import { envelopeOf, MODERN_METHODS, modernReply, withoutEnvelope, type ModernCall } from "./modernExchange.ts"
import { listenFilterOf, type ListChanges } from "./ModernListen.ts"
import { toolCallHeadersRefusal } from "./paramHeaders.ts"
import { AGENT_ENDPOINT, makeAgentEndpoint } from "./AgentEndpoint.ts"
import { ClientSession, type PostOutcome } from "./ClientSession.ts"
import { hubReach } from "./hubReach.ts"
import { isolatedReach } from "./isolatedReach.ts"
import { initializeProblem } from "./initializeProblem.ts"
import { readPosted, type PostedMessages } from "./postedMessages.ts"
import { HeldCalls } from "./HeldCalls.ts"
import { jsonRpcError, replyForFailure, type ProxyReply } from "./proxyErrorTable.ts"
import { HeldCallSeal } from "./heldCallState.ts"
import { refuseUngrantedServer } from "./refuseUngrantedServer.ts"
import { EACH_SERVER, EVERYTHING, requestAccessOf, serverRefOf, type Authorized } from "./requestAccess.ts"
import { ServerHub } from "./ServerHub.ts"
import type { SessionReach } from "./SessionReach.ts"
import { SessionLimitReached } from "./SessionLimitReached.ts"
import { DEFAULT_PROXY_SETTINGS, type McpProxySettings } from "./settings.ts"
import {
  ALREADY_INITIALIZED,
  getHeadersProblem,
  METHOD_NOT_ALLOWED,
  ONE_INITIALIZE,
  postHeadersProblem,
  SESSION_NOT_FOUND,
  SESSION_REQUIRED,
  versionProblem,
} from "./streamableHttp.ts"
import { realTimers, type ProxyTimers } from "./timers.ts"

export interface McpProxyDeps {
  readonly mcpServers: McpServers
  readonly logger: Logger
  /** Revocations end the sessions they take the authority of. */
  readonly access: Pick<AgentAccess, "onRevoked">
  /** The DTMA's resource identifier, for `resource_metadata` in a refusal. */
  readonly resourceUrl: string
  readonly settings?: Partial<McpProxySettings>
  /** Starts the MCP request spans; default: the global tracer (a no-op one unless tracing is on). */
  readonly tracer?: Tracer
  /** Default: real time. */
  readonly timers?: ProxyTimers
}

/** What `/metrics` reports of the proxy's client sessions. */
export interface McpSessionStats {
  /** Open client sessions by server name, the agent endpoint's under `/mcp` (servers with none are left out). */
  readonly open: ReadonlyMap<string, number>
  /** New sessions refused since start, by the bound they would have passed. */
  readonly refused: Readonly<Record<SessionLimitReached["scope"], number>>
}

/** The Streamable HTTP MCP endpoints: one in front of every managed MCP server, and the agent endpoint over them all. */
export interface McpProxy {
  /**
   * Serves one HTTP request (POST, GET or DELETE) to the endpoint of server `name`, from the caller
   * authentication left in `ctx.state` (an agent only within its grants).
   */
  handle(ctx: Context, name: string): Promise<void>
  /**
   * Serves one HTTP request (POST, GET or DELETE) to the agent endpoint `/mcp`: every server the
   * caller's grants name (the operator: every server) as one, within those grants.
   */
  handleAgentEndpoint(ctx: Context): Promise<void>
  /** Open client sessions, of one server (or `/mcp`) or of all. */
  sessionCount(name?: string): number
  sessionStats(): McpSessionStats
  /** Ends every client session (at shutdown): their calls in flight are cancelled upstream, 2026-07-28 clients' included. */
  close(): void
}

/** The ids of the requests in a body not yet checked, to answer each under its own id. */
const requestIdsOf = (body: unknown): ReadonlyArray<JsonRpcId> =>
  (Array.isArray(body) ? body : [body]).flatMap((m: { id?: unknown; method?: unknown } | null) =>
    typeof m === "object" && m !== null && typeof m.method === "string" && (typeof m.id === "string" || typeof m.id === "number") ? [m.id] : [],
  )

/** A request to the endpoint of server `name` (or `/mcp`), what its caller may reach there, and what a new session of it reaches. */
interface Addressed {
  readonly name: string
  readonly authorized: Authorized
  readonly reach: () => SessionReach
  /** Who answers, as a modern request's results name it (`_meta` serverInfo). */
  readonly serverInfo: () => unknown
  /** Which lists announce their changes, for a modern listen. */
  readonly listChanges: () => ListChanges
  /** The tool the caller is listed under `name` (its `x-mcp-header` annotations checked on a modern call); null when it is listed none. */
  readonly tool: (name: string) => unknown
}

const requestIds = (posted: PostedMessages): ReadonlyArray<JsonRpcId> => posted.messages.flatMap((m) => (isRequest(m) ? [m.id] : []))

export const makeMcpProxy = (deps: McpProxyDeps): McpProxy => {
  const settings: McpProxySettings = { ...DEFAULT_PROXY_SETTINGS, ...deps.settings }
  const sessions = new Map<string, ClientSession>()
  /** Every session not yet ended, retiring ones included (they are out of `sessions`). */
  const live = new Set<ClientSession>()
  const refused = { per_server: 0, total: 0 }
  const hubs = new Map<string, ServerHub>()
  const { logger, mcpServers } = deps
  const tracer = deps.tracer ?? globalTracer()
  const versions = { modern: settings.modernProtocolVersions, legacy: settings.supportedProtocolVersions }
  const timers = deps.timers ?? realTimers
  // Calls of 2026-07-28 clients waiting for their input (MRTR), under a key of this process's.
  const held = new HeldCalls({
    seal: new HeldCallSeal(),
    timers,
    ttlMs: settings.mrtrTtlMs,
    maxPerPrincipal: settings.maxHeldCallsPerCaller,
    maxTotal: settings.maxHeldCalls,
  })

  const hubFor = (name: string): ServerHub => {
    const hub = hubs.get(name) ?? new ServerHub({ name, mcpServers, timeoutMs: settings.requestTimeoutMs, logger })
    hubs.set(name, hub)
    return hub
  }
  const agentEndpoint = makeAgentEndpoint({ mcpServers, hubFor, settings, logger })

  const countOf = (name?: string): number => {
    if (name === undefined) return sessions.size
    let n = 0
    for (const s of sessions.values()) if (s.name === name) n++
    return n
  }

  /** Refuses a new session of `name` that would pass a bound; the agent endpoint's are bounded by the total only. */
  const admit = (name: string): SessionLimitReached | null => {
    const limit =
      name !== AGENT_ENDPOINT && countOf(name) >= settings.maxSessionsPerServer
        ? new SessionLimitReached({ name, limit: settings.maxSessionsPerServer, scope: "per_server" })
        : sessions.size >= settings.maxSessions
          ? new SessionLimitReached({ name, limit: settings.maxSessions, scope: "total" })
          : null
    if (limit !== null) {
      refused[limit.scope]++
      logger.warn({ server: name, limit: limit.limit, scope: limit.scope }, "MCP proxy refused a client session: too many")
    }
    return limit
  }

  const newSession = (to: Addressed, modern?: ModernCall): ClientSession => {
    const { name } = to
    const session: ClientSession = new ClientSession({
      reach: to.reach(),
      settings,
      tracer,
      opener: to.authorized,
      timers,
      modern,
      onEnd: (_, reason) => {
        live.delete(session)
        if (!sessions.delete(session.id) && !session.retiring) return
        logger.info({ server: name, reason, sessions: sessions.size }, "MCP proxy session ended")
      },
    })
    return session
  }

  // The sessions of a server that is gone, or replaced by a different one, must not reach whatever
  // serves the name next: they get 404 from now on (clients initialize again), and end once their
  // requests in flight are answered. A fresh hub serves the name's new sessions.
  const unsubscribeGone = mcpServers.subscribeGone(({ name, reason }: McpServerGone) => {
    const why = reason === "removed" ? "the server was removed" : "a different server replaced it"
    hubs.get(name)?.retire()
    hubs.delete(name)
    for (const session of sessions.values()) {
      if (session.name !== name) continue
      sessions.delete(session.id)
      session.retire(why)
    }
    // The agent endpoint's sessions go on: only that server's part of them ends.
    agentEndpoint.serverGone(name)
  })

  // A revoked agent's sessions end at once (agent-access spec, "Revocation"): its streams close,
  // its calls in flight are cancelled (each answered with an error saying why, so that its client
  // stops waiting), and its next request finds no session.
  const unsubscribeRevoked = deps.access.onRevoked((revocation: Revocation) => {
    const why = revocation.kind === "agent" ? "the agent's access was revoked" : "the access token was revoked"
    for (const session of live) if (session.revokedBy(revocation)) session.end(why, "revoked")
    held.revoke(revocation)
  })

  const reply = (ctx: Context, r: ProxyReply): void => {
    ctx.status = r.status
    ctx.set(r.headers)
    ctx.body = r.body
  }

  /**
   * The session a request names in `Mcp-Session-Id`, or the refusal: none named (400), unknown here
   * or another caller's (404, the same answer), an unsupported protocol version (400).
   */
  const sessionOf = (ctx: Context, to: Addressed): ClientSession | ProxyReply => {
    const id = ctx.get("mcp-session-id")
    if (id === "") return SESSION_REQUIRED
    const session = sessions.get(id)
    if (session?.name !== to.name || session.modern || !session.admits(to.authorized.caller)) return SESSION_NOT_FOUND
    const problem = versionProblem(ctx.headers, settings.supportedProtocolVersions)
    if (problem !== null) return problem
    requestStateOf(ctx).mcpSessionId = session.id
    return session
  }

  /**
   * Serves a POST on its session: a refusal is rendered by Koa, anything else written on the response
   * by the session. `modern`: the one request's method, when it is a 2026-07-28 one (its refusal in that revision's codes).
   */
  const post = (ctx: Context, session: ClientSession, posted: PostedMessages, authorized: Authorized, modern?: string): PostOutcome => {
    const state = requestStateOf(ctx)
    const tally = state.mcpCalls ?? NO_TALLY
    const outcome = session.post(ctx.res, posted, { authorized, trace: state.traceContext ?? ROOT_CONTEXT, tally })
    if ("refused" in outcome) {
      // Refused as a whole: the POST's own record says so, not its requests'.
      tally.abandon()
      const refusal = replyForFailure(outcome.refused, requestIds(posted), posted.batch)
      reply(ctx, modern === undefined ? refusal : modernReply(modern, refusal))
    } else if ("rejected" in outcome) {
      tally.abandon()
      reply(ctx, outcome.rejected)
    } else ctx.respond = false
    return outcome
  }

  const sentOf = (outcome: PostOutcome): Promise<void> | undefined => ("sent" in outcome ? outcome.sent : undefined)

  /** An `initialize` without a session: a new session of its caller, if the bounds admit it and the server can answer. */
  const initialize = (ctx: Context, to: Addressed, posted: PostedMessages, request: JsonRpcRequest): Promise<void> | undefined => {
    if (posted.messages.length > 1) return void reply(ctx, ONE_INITIALIZE)
    const problem = initializeProblem(request)
    if (problem !== null) return void reply(ctx, { status: 400, headers: {}, body: jsonRpcError(request.id, ErrorCodes.InvalidParams, problem) })
    const limit = admit(to.name)
    if (limit !== null) return void reply(ctx, replyForFailure(limit, [request.id], posted.batch))
    const session = newSession(to)
    const outcome = post(ctx, session, posted, to.authorized)
    if (!("sent" in outcome)) return undefined
    sessions.set(session.id, session)
    live.add(session)
    session.join()
    logger.info({ server: to.name, sessions: sessions.size }, "MCP proxy session opened")
    return outcome.sent
  }

  /**
   * A 2026-07-28 request: no session, its own answer. It is served by a session of its own (never
   * named, gone once the request ends) on the same path as a 2025-era client's requests — grants,
   * audit, rate limits, revocation and traces alike — its envelope kept aside (`wire`): a 2025-era
   * server never sees it, one that speaks 2026-07-28 gets it back (`answerRequest`). Closing its
   * answer cancels it. A `tools/call`'s `Mcp-Param-{Name}` headers are first checked against its
   * arguments, by the called tool's `x-mcp-header` annotations as the endpoint lists it to the caller
   * (`paramHeaders.ts`); they go no further (toward a server that speaks 2026-07-28 over HTTP, the
   * DTMA's connection sends its own, from the tool's listing: `toolParamHeaders.ts`).
   */
  const serveModern = (ctx: Context, to: Addressed, era: Extract<Era, { era: "modern" }>): Promise<void> | undefined => {
    const { message, envelope } = era
    // 2026-07-28 defines no client notification over HTTP: taken, and nothing done with it.
    if (!isRequest(message) || envelope === null) {
      ctx.respond = false
      return void ctx.res.writeHead(202).end()
    }
    if (!MODERN_METHODS.has(message.method)) {
      const problem = `Method not found: ${message.method} is not a method of MCP ${envelope.protocolVersion} the DTMA serves`
      return void reply(ctx, { status: 404, headers: {}, body: jsonRpcError(message.id, ErrorCodes.MethodNotFound, problem) })
    }
    const called = message.method === "tools/call" ? message.params?.["name"] : undefined
    const mismatch = typeof called === "string" ? toolCallHeadersRefusal(to.tool(called), message, ctx.headers) : null
    if (mismatch !== null) return void reply(ctx, mismatch)
    const listen = message.method === "subscriptions/listen"
    const filter = listen ? listenFilterOf(message.params) : null
    if (filter !== null && "invalid" in filter)
      return void reply(ctx, { status: 400, headers: {}, body: jsonRpcError(message.id, ErrorCodes.InvalidParams, `Invalid params: ${filter.invalid}`) })
    // A listen stays open as a 2025-era session's GET stream does: it counts as a session.
    const limit = listen ? admit(to.name) : null
    if (limit !== null) return void reply(ctx, modernReply(message.method, replyForFailure(limit, [message.id])))
    const session = newSession(to, { envelope, serverInfo: to.serverInfo, listChanges: to.listChanges, held, wire: envelopeOf(message) })
    live.add(session)
    if (listen) sessions.set(session.id, session)
    const outcome = post(ctx, session, { messages: [withoutEnvelope(message)], batch: false }, to.authorized, message.method)
    if (!("sent" in outcome)) return void session.end("refused")
    ctx.res.once("close", () => {
      if (!ctx.res.writableFinished) session.end("the client closed its stream")
    })
    return outcome.sent
  }

  const handlePost = (ctx: Context, to: Addressed): Promise<void> | undefined => {
    const refusedHeaders = postHeadersProblem(ctx.headers)
    if (refusedHeaders !== null) return void reply(ctx, refusedHeaders)
    const posted = readPosted(ctx.request.body)
    if ("invalid" in posted) return void reply(ctx, { status: 400, headers: {}, body: jsonRpcError(null, ErrorCodes.InvalidRequest, posted.invalid) })
    const era = eraOf({ httpMethod: "POST", headers: ctx.headers, body: posted.batch ? posted.messages : posted.messages[0] }, versions)
    if (era.era === "refused") return void reply(ctx, era.reply)
    if (era.era === "modern") return serveModern(ctx, to, era)
    const init = posted.messages.find((m): m is JsonRpcRequest => isRequest(m) && m.method === "initialize")
    if (ctx.get("mcp-session-id") === "" && init !== undefined) return initialize(ctx, to, posted, init)
    const session = sessionOf(ctx, to)
    if (!(session instanceof ClientSession)) return void reply(ctx, session)
    if (init !== undefined) return void reply(ctx, ALREADY_INITIALIZED)
    return sentOf(post(ctx, session, posted, to.authorized))
  }

  /** A GET or DELETE naming a modern version: 405 (a 2026-07-28 client has no stream to open, no session to end). */
  const modernBodiless = (ctx: Context): ProxyReply | null => {
    const era = eraOf({ httpMethod: ctx.method, headers: ctx.headers }, versions)
    return era.era === "refused" ? era.reply : null
  }

  const handleGet = (ctx: Context, to: Addressed): void => {
    const session = modernBodiless(ctx) ?? getHeadersProblem(ctx.headers) ?? sessionOf(ctx, to)
    if (!(session instanceof ClientSession)) return reply(ctx, session)
    const conflict = session.listen(ctx.res, to.authorized)
    if (conflict !== null) return reply(ctx, conflict)
    ctx.respond = false
  }

  const handleDelete = (ctx: Context, to: Addressed): void => {
    const session = modernBodiless(ctx) ?? sessionOf(ctx, to)
    if (!(session instanceof ClientSession)) return reply(ctx, session)
    session.end("closed by the client")
    ctx.respond = false
    ctx.res.writeHead(200).end()
  }

  const handle: McpProxy["handle"] = async (ctx, name) => {
    const caller = requestStateOf(ctx).caller
    if (caller === undefined) throw new Error("The MCP proxy was reached by a request authentication did not see (no caller in ctx.state)")
    // Before anything else, so that the refusal says nothing of whether the server exists.
    const access = requestAccessOf(caller, serverRefOf(mcpServers, name))
    if (access === null) return refuseUngrantedServer(ctx, name, deps.resourceUrl)
    if (!mcpServers.isMcpServer(name)) {
      const body: unknown = ctx.request.body
      return reply(ctx, replyForFailure(new InstanceNotFound({ name }), requestIdsOf(body), Array.isArray(body)))
    }
    // An agent on a `per_agent` server reaches its own instance; the operator, the server's base instance.
    const reach = (): SessionReach =>
      caller.kind === "agent" && mcpServers.isolationOf(name) === "per_agent"
        ? isolatedReach({ mcpServers, server: name, agent: caller.sub, hubFor, settings, logger })
        : hubReach(hubFor(name), settings)
    // What the server said it is (its base instance's initialize, the same for every instance).
    const hello = () => {
      const upstream = hubFor(name).session()
      return Exit.isSuccess(upstream) ? upstream.value.hello : null
    }
    const serverInfo = () => hello()?.serverInfo ?? { name, version: "unknown" }
    const listChanges = () => {
      const capabilities = hello()?.capabilities ?? {}
      const announces = (list: string) => (capabilities[list] as { listChanged?: unknown } | undefined)?.listChanged === true
      return { tools: announces("tools"), prompts: announces("prompts"), resources: announces("resources") }
    }
    // What discovery found (the base instance's, as for every instance), within the caller's grants.
    const tool = (called: string) => {
      if (access !== EVERYTHING && !ruleAllows(access.tools, called)) return null
      const view = Effect.runSyncExit(mcpServers.get(name))
      return Exit.isSuccess(view) ? (view.value.capabilities?.tools.find((t) => t["name"] === called) ?? null) : null
    }
    return serve(ctx, { name, authorized: { caller, access }, reach, serverInfo, listChanges, tool })
  }

  const handleAgentEndpoint: McpProxy["handleAgentEndpoint"] = async (ctx) => {
    const caller = requestStateOf(ctx).caller
    if (caller === undefined) throw new Error("The agent endpoint was reached by a request authentication did not see (no caller in ctx.state)")
    return serve(ctx, {
      name: AGENT_ENDPOINT,
      authorized: { caller, access: EACH_SERVER },
      reach: () => agentEndpoint,
      serverInfo: () => AGENT_SERVER_INFO,
      // Every list of `/mcp` changes as servers come and go.
      listChanges: () => ({ tools: true, prompts: true, resources: true }),
      tool: (called) => agentEndpoint.toolOf(caller, called),
    })
  }

  const serve = (ctx: Context, to: Addressed): Promise<void> | void => {
    switch (ctx.method) {
      case "POST":
        return handlePost(ctx, to)
      case "GET":
        return handleGet(ctx, to)
      case "DELETE":
        return handleDelete(ctx, to)
      default:
        return reply(ctx, METHOD_NOT_ALLOWED)
    }
  }

  return {
    handle,
    handleAgentEndpoint,
    sessionCount: countOf,
    sessionStats: () => {
      const open = new Map<string, number>()
      for (const s of sessions.values()) open.set(s.name, (open.get(s.name) ?? 0) + 1)
      return { open, refused: { ...refused } }
    },
    close: () => {
      unsubscribeGone()
      unsubscribeRevoked()
      agentEndpoint.close()
      held.close()
      // Every session not yet ended: a 2026-07-28 call's (in `live` only) and a retiring one's, not only those a client may name.
      for (const session of live) session.end("the DTMA is shutting down")
    },
  }
}
