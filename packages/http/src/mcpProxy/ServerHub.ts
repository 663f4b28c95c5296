import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { InstanceNotFound, JsonRpcNotification, McpServers, McpServerUnavailable, UpstreamSession } from "@dtma/domain"
import type { Logger } from "../composition/logger.ts"
import { levelOf } from "./logLevels.ts"
import { ResourceSubscriptions } from "./ResourceSubscriptions.ts"
import { sseEvent } from "./streamableHttp.ts"

/** A client session as the hub sees it: where server notifications go. */
export interface HubMember {
  readonly id: string
  /** A server notification, and the same already as an event of an event stream (serialised once for every member). */
  notify(event: string, notification: JsonRpcNotification): void
}

const LIST_CHANGED = /^notifications\/[a-z_]+\/list_changed$/

/**
 * The client sessions of one MCP server: it routes the server's own notifications (list changes to
 * every session, resource updates to the sessions subscribed to that resource) and keeps the
 * upstream subscribed to each resource some session wants. A log message comes here only when no
 * request can be told as the one it was sent about (those go to their request's session): it goes
 * to no session, since any other could be another agent's, and is noted in the DTMA's log at debug
 * with its level and size, never its content (a server can log anything it holds).
 */
export class ServerHub {
  readonly name: string
  readonly subscriptions = new ResourceSubscriptions()
  readonly #mcpServers: McpServers
  readonly #timeoutMs: number
  readonly #logger: Pick<Logger, "debug">
  readonly #members = new Map<string, HubMember>()
  #unsubscribe: (() => void) | null = null
  #upstream: UpstreamSession | null = null
  #retired = false

  constructor(options: { readonly name: string; readonly mcpServers: McpServers; readonly timeoutMs: number; readonly logger: Pick<Logger, "debug"> }) {
    this.name = options.name
    this.#mcpServers = options.mcpServers
    this.#timeoutMs = options.timeoutMs
    this.#logger = options.logger
  }

  join(member: HubMember): void {
    if (this.#unsubscribe === null) this.#unsubscribe = this.#mcpServers.subscribe(this.name, (n) => this.#route(n))
    this.#members.set(member.id, member)
  }

  /**
   * The server it served is gone, or replaced by a different one: its members are ending, and
   * nothing of theirs (resource unsubscriptions) is sent to whatever serves the name now.
   */
  retire(): void {
    this.#retired = true
  }

  /** Forgets `member` and its resource subscriptions, unsubscribing upstream where it was the last. */
  leave(member: HubMember): void {
    if (!this.#members.delete(member.id)) return
    const unsubscribe = this.subscriptions.dropSession(member.id)
    const upstream = unsubscribe.length === 0 || this.#retired ? null : this.session()
    if (upstream !== null && Exit.isSuccess(upstream)) for (const uri of unsubscribe) this.#callDetached(upstream.value, "resources/unsubscribe", { uri })
    if (this.#members.size === 0) {
      this.#unsubscribe?.()
      this.#unsubscribe = null
    }
  }

  /** The live upstream session, looked up synchronously; nothing else. */
  session(): Exit.Exit<UpstreamSession, InstanceNotFound | McpServerUnavailable> {
    return Effect.runSyncExit(this.#mcpServers.session(this.name))
  }

  /**
   * Keeps the upstream subscribed to what the clients want across reconnections: when requests go to
   * `session` and it is not the connection they went to before (the server restarted or reconnected),
   * it is first subscribed to every resource some client session still wants.
   */
  carrySubscriptionsTo(session: UpstreamSession): void {
    if (session === this.#upstream) return
    const reconnected = this.#upstream !== null
    this.#upstream = session
    if (reconnected) for (const uri of this.subscriptions.uris()) this.#callDetached(session, "resources/subscribe", { uri })
  }

  #callDetached(session: UpstreamSession, method: string, params: Readonly<Record<string, unknown>>): void {
    if (!this.#retired) Effect.runFork(session.call(method, params, this.#timeoutMs).pipe(Effect.ignore))
  }

  #route(notification: JsonRpcNotification): void {
    if (notification.method === "notifications/resources/updated") {
      const uri = notification.params?.["uri"]
      const subscribers = typeof uri === "string" ? this.subscriptions.subscribers(uri) : []
      const event = subscribers.length === 0 ? "" : sseEvent(notification)
      for (const id of subscribers) this.#members.get(id)?.notify(event, notification)
    } else if (notification.method === "notifications/message") {
      const dataBytes = Buffer.byteLength(JSON.stringify(notification.params?.["data"] ?? null))
      this.#logger.debug({ server: this.name, logLevel: levelOf(notification) ?? "unknown", dataBytes }, "MCP server log message kept from every client")
    } else if (LIST_CHANGED.test(notification.method)) {
      const event = sseEvent(notification)
      for (const member of this.#members.values()) member.notify(event, notification)
    }
  }
}
