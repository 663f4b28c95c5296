import type { AggregateCatalog, JsonRpcNotification, McpServers } from "@dtma/domain"
import type { AgentCatalogs } from "./agentCatalogs.ts"
import { EVERYTHING, requestAccessOf, serverRefOf } from "./requestAccess.ts"
import type { HubMember, ServerHub } from "./ServerHub.ts"
import type { ReachMember } from "./SessionReach.ts"
import { sseEvent } from "./streamableHttp.ts"

/** One session of the agent endpoint, as the endpoint keeps it. */
export interface Member {
  readonly session: ReachMember
  /** The catalog its `list_changed` were last worked out against. */
  shown: AggregateCatalog
  /** Listed names and URIs of servers removed since it was shown them (`tool <name>`, …), to the server. */
  readonly departed: Map<string, string>
  /** The hubs of the servers it reaches (an agent's own instance's, for a `per_agent` server), with its place in each, by server. */
  readonly hubs: Map<string, { readonly hub: ServerHub; readonly port: HubMember }>
  /** The URI the client subscribed with, by server and the server's own URI (`subscriptionKey`). */
  readonly subscribed: Map<string, string>
}

/** Departed names kept per session at most (the oldest go first). */
const MAX_DEPARTED = 10_000

const LIST_CHANGED = /^notifications\/[a-z_]+\/list_changed$/

const CHANGES = [
  ["tools", "notifications/tools/list_changed"],
  ["prompts", "notifications/prompts/list_changed"],
  ["resources", "notifications/resources/list_changed"],
] as const

export const subscriptionKey = (server: string, uri: string): string => `${server}\n${uri}`

const uriOf = (notification: JsonRpcNotification): string | null => {
  const uri = notification.params?.["uri"]
  return typeof uri === "string" ? uri : null
}

export interface AgentMembersDeps {
  readonly mcpServers: McpServers
  readonly catalogs: AgentCatalogs
  readonly hubFor: (name: string) => ServerHub
}

/**
 * The sessions of the agent endpoint: which hubs each is a member of, what each subscribed to, what
 * each was last shown. Server notifications reach a session within its caller's grants on that
 * server; `list_changed` is worked out here, from memory, whenever the servers changed.
 */
export class AgentMembers {
  readonly #deps: AgentMembersDeps
  readonly #members = new Map<string, Member>()
  #pending = false

  constructor(deps: AgentMembersDeps) {
    this.#deps = deps
  }

  get(sessionId: string): Member | undefined {
    return this.#members.get(sessionId)
  }

  join(session: ReachMember): void {
    const shown = this.#deps.catalogs.of(session.authorized().caller)
    const member: Member = { session, shown, departed: new Map(), hubs: new Map(), subscribed: new Map() }
    this.#members.set(session.id, member)
    this.#joinHubs(member)
  }

  leave(session: ReachMember): void {
    const member = this.#members.get(session.id)
    if (member === undefined) return
    this.#members.delete(session.id)
    for (const { hub, port } of member.hubs.values()) hub.leave(port)
  }

  /**
   * Makes the member one of the server's hub (`hub`: the hub of the agent's own instance of a
   * `per_agent` server, which replaces the one joined before), so that its log messages and resource
   * updates reach it.
   */
  joinHub(member: Member, server: string, hub: ServerHub = this.#deps.hubFor(server)): void {
    const before = member.hubs.get(server)
    if (before?.hub === hub) return
    before?.hub.leave(before.port)
    const port: HubMember = { id: member.session.id, notify: (event, n) => this.#deliver(member, server, event, n) }
    hub.join(port)
    member.hubs.set(server, { hub, port })
  }

  /** A server was removed or replaced (its hub retired): each session's part of it ends, the sessions go on. */
  serverGone(name: string): void {
    for (const member of this.#members.values()) {
      const joined = member.hubs.get(name)
      member.hubs.delete(name)
      joined?.hub.leave(joined.port)
      for (const key of member.subscribed.keys()) if (key.startsWith(`${name}\n`)) member.subscribed.delete(key)
    }
    this.changed()
  }

  /** The servers changed: the catalogs are worked out again, and every session told which of its lists changed (many changes at once, once). */
  changed(): void {
    this.#deps.catalogs.invalidate()
    if (this.#pending) return
    this.#pending = true
    queueMicrotask(() => {
      this.#pending = false
      for (const member of this.#members.values()) this.#refresh(member)
    })
  }

  #joinHubs(member: Member): void {
    // A hub joined already stays: for a `per_agent` server it is the agent's own instance's.
    for (const server of this.#deps.catalogs.serversOf(member.shown)) if (!member.hubs.has(server)) this.joinHub(member, server)
  }

  /** Where a server's notification goes in one session: list changes are the endpoint's own, the rest within the session's grants there. */
  #deliver(member: Member, server: string, event: string, notification: JsonRpcNotification): void {
    if (LIST_CHANGED.test(notification.method)) return
    const access = requestAccessOf(member.session.authorized().caller, serverRefOf(this.#deps.mcpServers, server))
    if (access === null) return
    if (notification.method !== "notifications/resources/updated") return member.session.notify(event, notification)
    if (access !== EVERYTHING && !access.resources) return
    const uri = uriOf(notification)
    const listed = uri === null ? undefined : member.subscribed.get(subscriptionKey(server, uri))
    if (listed === undefined || listed === uri) return member.session.notify(event, notification)
    const renamed = { ...notification, params: { ...notification.params, uri: listed } }
    member.session.notify(sseEvent(renamed), renamed)
  }

  /** What the member is listed changed: it is told which lists, and keeps the names of servers removed meanwhile. */
  #refresh(member: Member): void {
    const { catalogs, mcpServers } = this.#deps
    const before = member.shown
    const next = catalogs.of(member.session.authorized().caller)
    if (next === before) return
    for (const [kind, method] of CHANGES) {
      if (catalogs.fingerprint(before, kind) === catalogs.fingerprint(next, kind)) continue
      const notification = { jsonrpc: "2.0" as const, method }
      member.session.notify(sseEvent(notification), notification)
    }
    for (const [key, server] of catalogs.routesOf(before)) if (!mcpServers.isMcpServer(server)) member.departed.set(key, server)
    for (const [key, server] of member.departed) if (mcpServers.isMcpServer(server)) member.departed.delete(key)
    for (const key of member.departed.keys()) {
      if (member.departed.size <= MAX_DEPARTED) break
      member.departed.delete(key)
    }
    member.shown = next
    this.#joinHubs(member)
  }
}
