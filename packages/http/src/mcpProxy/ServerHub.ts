import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { InstanceNotFound, JsonRpcNotification, McpServers, McpServerUnavailable, UpstreamSession } from "@dtma/domain"
import { ResourceSubscriptions } from "./ResourceSubscriptions.ts"

/** A client session as the hub sees it: where server notifications go. */
export interface HubMember {
  readonly id: string
  notify(notification: JsonRpcNotification): void
}

const LIST_CHANGED = /^notifications\/[a-z_]+\/list_changed$/

/**
 * The client sessions of one MCP server: it routes the server's own notifications (list changes and
 * log messages to every session, resource updates to the sessions subscribed to that resource) and
 * keeps the upstream subscribed to each resource some session wants.
 */
export class ServerHub {
  readonly name: string
  readonly subscriptions = new ResourceSubscriptions()
  readonly #mcpServers: McpServers
  readonly #timeoutMs: number
  readonly #members = new Map<string, HubMember>()
  #unsubscribe: (() => void) | null = null
  #upstream: UpstreamSession | null = null
  #retired = false

  constructor(options: { readonly name: string; readonly mcpServers: McpServers; readonly timeoutMs: number }) {
    this.name = options.name
    this.#mcpServers = options.mcpServers
    this.#timeoutMs = options.timeoutMs
  }

  get size(): number {
    return this.#members.size
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
    for (const uri of this.subscriptions.dropSession(member.id)) this.#callDetached("resources/unsubscribe", { uri })
    if (this.#members.size === 0) {
      this.#unsubscribe?.()
      this.#unsubscribe = null
    }
  }

  /**
   * The live upstream session, found synchronously. A new connection (the server restarted) is
   * subscribed again to every resource some client session still wants.
   */
  upstream(): Exit.Exit<UpstreamSession, InstanceNotFound | McpServerUnavailable> {
    const exit = Effect.runSyncExit(this.#mcpServers.session(this.name))
    if (Exit.isSuccess(exit) && exit.value !== this.#upstream) {
      const reconnected = this.#upstream !== null
      this.#upstream = exit.value
      if (reconnected) for (const uri of this.subscriptions.uris()) this.#callDetached("resources/subscribe", { uri })
    }
    return exit
  }

  #callDetached(method: string, params: Readonly<Record<string, unknown>>): void {
    if (this.#retired) return
    Effect.runFork(this.#mcpServers.session(this.name).pipe(Effect.flatMap((s) => s.call(method, params, this.#timeoutMs)), Effect.ignore))
  }

  #route(notification: JsonRpcNotification): void {
    if (notification.method === "notifications/resources/updated") {
      const uri = notification.params?.["uri"]
      if (typeof uri !== "string") return
      for (const id of this.subscriptions.subscribers(uri)) this.#members.get(id)?.notify(notification)
    } else if (notification.method === "notifications/message" || LIST_CHANGED.test(notification.method)) {
      for (const member of this.#members.values()) member.notify(notification)
    }
  }
}
