import * as Result from "effect/Result"
import {
  InstanceNotFound,
  routeResource,
  type AggregateCatalog,
  type CallerIdentity,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type McpServers,
} from "@dtma/domain"
import {
  absentAnswer,
  AGENT_CAPABILITIES,
  agentInitializeResult,
  invalidParams,
  LIST_FIELDS,
  listAnswer,
  methodNotFound,
  unavailableAnswer,
} from "./agentAnswers.ts"
import { makeAgentCatalogs } from "./agentCatalogs.ts"
import { AgentMembers, subscriptionKey, type Member } from "./agentMembers.ts"
import { answerRequest, NOTHING_TO_STOP } from "./answerRequest.ts"
import { answerIsolated, type IsolatedDeps } from "./isolatedReach.ts"
import { discoverResult } from "./modernExchange.ts"
import { NOTHING, requestAccessOf, serverRefOf } from "./requestAccess.ts"
import type { ServerHub } from "./ServerHub.ts"
import type { ReachMember, Routed, SessionReach } from "./SessionReach.ts"

/** What the agent endpoint's sessions are counted under; no server can have the name (it holds a `/`). */
export const AGENT_ENDPOINT = "/mcp"

export interface AgentEndpointDeps extends IsolatedDeps {
  readonly mcpServers: McpServers
  /** The hub of a server: the proxy's own, shared with the sessions of the server's endpoint. */
  readonly hubFor: (name: string) => ServerHub
}

/** The reach of the sessions of `/mcp`, and what the proxy tells it. */
export interface AgentEndpoint extends SessionReach {
  /** A server was removed or replaced: its hub is retired, its part of each session ends (the sessions go on). */
  serverGone(name: string): void
  close(): void
}

const stringAt = (value: unknown, key: string): string | null => {
  const field = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined
  return typeof field === "string" ? field : null
}

const withParams = (request: JsonRpcRequest, params: Readonly<Record<string, unknown>>): JsonRpcRequest => ({
  ...request,
  params: { ...request.params, ...params },
})

/** A read's contents under the URI the client asked for, where the server answered with its own. */
const relabelled = (response: JsonRpcResponse | null, serverUri: string, listedUri: string): JsonRpcResponse | null => {
  if (response === null || !("result" in response) || !Array.isArray(response.result["contents"])) return response
  const contents = (response.result["contents"] as ReadonlyArray<unknown>).map((c) =>
    stringAt(c, "uri") === serverUri ? { ...(c as object), uri: listedUri } : c,
  )
  return { ...response, result: { ...response.result, contents } }
}

/**
 * The agent endpoint `/mcp` as a session's reach: every server its caller's grants name, as one
 * server. It answers itself `initialize` and `server/discover` (the DTMA's own), `ping`, `logging/setLevel` (taken, not
 * passed on: a shared server's level is every client's) and the lists (from memory: `agentCatalogs`);
 * calls, gets, reads, subscriptions and completions go, renamed back, to the server that owns them
 * through that server's hub, as on its own endpoint (`answerRequest`). A server that cannot take a
 * request answers that request with an error naming it (`unavailableAnswer`); the others are never
 * affected. Each session hears, from the servers it reaches, log messages and the updates of the
 * resources it subscribed to, and `list_changed` worked out here whenever what it is listed changed.
 */
export const makeAgentEndpoint = (deps: AgentEndpointDeps): AgentEndpoint => {
  const { mcpServers, settings } = deps
  const catalogs = makeAgentCatalogs(mcpServers)
  const members = new AgentMembers({ mcpServers, catalogs, hubFor: deps.hubFor })

  const accessOn = (caller: CallerIdentity, server: string) => requestAccessOf(caller, serverRefOf(mcpServers, server))

  const local = (request: JsonRpcRequest, response: JsonRpcResponse, place: { server?: string; deniedFor?: string } = {}): Routed => ({
    server: place.server ?? null,
    request,
    answer: (_, answering) => {
      answering.settle(response, place.deniedFor)
      return NOTHING_TO_STOP
    },
  })

  const answered = (request: JsonRpcRequest, result: Readonly<Record<string, unknown>>): Routed => local(request, { jsonrpc: "2.0", id: request.id, result })

  /** The server's hub, which the session joins (if it is still open). */
  const joined = (member: Member | undefined, server: string): ServerHub => {
    const hub = deps.hubFor(server)
    if (member !== undefined) members.joinHub(member, server, hub)
    return hub
  }

  /** Forwards a request renamed for `server` through its hub; what the server cannot take is answered here, naming it. */
  const forward = (
    request: JsonRpcRequest,
    target: { readonly server: string; readonly caller: CallerIdentity },
    after?: (response: JsonRpcResponse | null, member: Member | undefined) => JsonRpcResponse | null,
  ): Routed => ({
    server: target.server,
    request,
    answer: (routed, answering) => {
      const member = members.get(answering.sessionId)
      const access = accessOn(target.caller, target.server) ?? NOTHING
      const settle = after === undefined ? answering.settle : (r: JsonRpcResponse | null, d?: string) => answering.settle(after(r, member), d)
      const { caller, server } = target
      const outcome =
        caller.kind === "agent" && mcpServers.isolationOf(server) === "per_agent"
          ? // The agent's own instance of the server, through its own hub (`isolatedReach.ts`).
            answerIsolated(deps, {
              ...answering,
              settle,
              request: routed,
              access,
              server,
              agent: caller.sub,
              onHub: (hub) => void (member === undefined ? undefined : members.joinHub(member, server, hub)),
              failureAnswer: (failure) => unavailableAnswer(routed, server, failure),
            })
          : answerRequest({ ...answering, settle, request: routed, hub: joined(member, server), settings, access })
      if (typeof outcome === "function") return outcome
      answering.settle(unavailableAnswer(routed, target.server, outcome))
      return NOTHING_TO_STOP
    },
  })

  /**
   * A request naming what the caller's catalog lacks: a server removed since the session was shown
   * it is named; anything else is answered as absent, and audited as denied when the grants are why.
   */
  const missing = (request: JsonRpcRequest, caller: CallerIdentity, member: ReachMember, key: string, existsForOperator: () => boolean): Routed => {
    const departed = members.get(member.id)?.departed.get(key)
    if (departed !== undefined) return local(request, unavailableAnswer(request, departed, new InstanceNotFound({ name: departed })), { server: departed })
    const denied = caller.kind === "agent" && existsForOperator()
    return local(request, absentAnswer(request), denied ? { deniedFor: "insufficient_scope" } : {})
  }

  const named = (request: JsonRpcRequest, caller: CallerIdentity, member: ReachMember, kind: "tool" | "prompt"): Routed => {
    const name = stringAt(request.params, "name")
    if (name === null) return local(request, absentAnswer(request))
    const routesOf = (c: AggregateCatalog) => (kind === "tool" ? c.toolRoutes : c.promptRoutes)
    const route = routesOf(catalogs.of(caller)).get(name)
    if (route !== undefined) return forward(withParams(request, { name: route.name }), { server: route.server, caller })
    return missing(request, caller, member, `${kind} ${name}`, () => routesOf(catalogs.everything()).has(name))
  }

  const resource = (request: JsonRpcRequest, caller: CallerIdentity, member: ReachMember): Routed => {
    const uri = stringAt(request.params, "uri")
    if (uri === null) return local(request, absentAnswer(request))
    const routed = routeResource(catalogs.of(caller), uri)
    if (Result.isFailure(routed)) {
      if (routed.failure.servers.length > 1) return local(request, invalidParams(request, routed.failure.message))
      return missing(request, caller, member, `resource ${uri}`, () => Result.isSuccess(routeResource(catalogs.everything(), uri)))
    }
    const { server, uri: own } = routed.success
    const key = subscriptionKey(server, own)
    const target = { server, caller }
    const renamed = own === uri ? request : withParams(request, { uri: own })
    switch (request.method) {
      case "resources/read":
        return forward(renamed, target, (response) => (own === uri ? response : relabelled(response, own, uri)))
      case "resources/subscribe":
        return forward(renamed, target, (response, m) => {
          if (response !== null && "result" in response) m?.subscribed.set(key, uri)
          return response
        })
      default:
        members.get(member.id)?.subscribed.delete(key)
        return forward(renamed, target)
    }
  }

  const completion = (request: JsonRpcRequest, caller: CallerIdentity, member: ReachMember): Routed => {
    const ref = request.params?.["ref"]
    const type = stringAt(ref, "type")
    const prompt = type === "ref/prompt" ? stringAt(ref, "name") : null
    const template = type === "ref/resource" ? stringAt(ref, "uri") : null
    const catalog = catalogs.of(caller)
    if (prompt !== null) {
      const route = catalog.promptRoutes.get(prompt)
      if (route !== undefined) return forward(withParams(request, { ref: { ...(ref as object), name: route.name } }), { server: route.server, caller })
      return missing(request, caller, member, `prompt ${prompt}`, () => catalogs.everything().promptRoutes.has(prompt))
    }
    if (template === null) return local(request, absentAnswer(request))
    const routed = routeResource(catalog, template)
    if (Result.isSuccess(routed)) {
      const { server, uri } = routed.success
      return forward(withParams(request, { ref: { ...(ref as object), uri } }), { server, caller })
    }
    if (routed.failure.servers.length > 1) return local(request, invalidParams(request, routed.failure.message))
    return missing(request, caller, member, `resource ${template}`, () => Result.isSuccess(routeResource(catalogs.everything(), template)))
  }

  const route: SessionReach["route"] = (request, authorized, member) => {
    const { caller } = authorized
    if (LIST_FIELDS.has(request.method)) return local(request, listAnswer(request, catalogs.of(caller), settings.listPageSize))
    switch (request.method) {
      case "initialize":
        return answered(
          request,
          agentInitializeResult(request.params?.["protocolVersion"], settings.supportedProtocolVersions, catalogs.of(caller).instructions),
        )
      case "server/discover":
        return answered(request, discoverResult({ capabilities: AGENT_CAPABILITIES, instructions: catalogs.of(caller).instructions }, settings))
      case "ping":
      case "logging/setLevel":
        return answered(request, {})
      case "tools/call":
        return named(request, caller, member, "tool")
      case "prompts/get":
        return named(request, caller, member, "prompt")
      case "resources/read":
      case "resources/subscribe":
      case "resources/unsubscribe":
        return resource(request, caller, member)
      case "completion/complete":
        return completion(request, caller, member)
      default:
        return local(request, methodNotFound(request))
    }
  }

  const unsubscribe = mcpServers.subscribeListings(() => members.changed())

  return {
    name: AGENT_ENDPOINT,
    server: null,
    route,
    join: (session) => members.join(session),
    leave: (session) => members.leave(session),
    // A client notification names no server: none is passed on.
    receive: () => undefined,
    // Server notifications are judged per server on their way in (`deliver`); list changes are the endpoint's own.
    mayReceive: () => true,
    serverGone: (name) => members.serverGone(name),
    close: () => unsubscribe(),
  }
}
