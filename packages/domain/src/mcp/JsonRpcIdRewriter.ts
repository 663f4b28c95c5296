import type { JsonRpcId, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from "./jsonrpc.ts"

export type ProgressToken = string | number

/** Who is waiting for an upstream answer, and where its progress and log messages go. */
export interface Waiter {
  readonly onResponse: (response: JsonRpcResponse) => void
  readonly onProgress?: ((notification: JsonRpcNotification) => void) | undefined
  /** A `notifications/message` the server sent about the request; without it, such messages belong to nobody. */
  readonly onLogMessage?: ((notification: JsonRpcNotification) => void) | undefined
  /**
   * A request the server sent about the request (sampling, elicitation, roots), under the server's
   * own id; without it, nobody is there to answer such requests.
   */
  readonly onServerRequest?: ((request: JsonRpcRequest) => void) | undefined
}

/**
 * Where a server notification came from: the request whose own stream carried it (`relatedId`), when
 * the transport tells (`separated`); else nothing but that it came on the one shared stream.
 */
export interface NotificationOrigin {
  readonly separated: boolean
  readonly relatedId?: JsonRpcId | undefined
}

interface Pending {
  readonly sessionId: string
  readonly clientId: JsonRpcId
  readonly clientToken: ProgressToken | null
  readonly waiter: Waiter
}

const progressTokenOf = (params: JsonRpcRequest["params"]): ProgressToken | null => {
  const meta = params?.["_meta"]
  if (typeof meta !== "object" || meta === null) return null
  const token = (meta as Record<string, unknown>)["progressToken"]
  return typeof token === "string" || typeof token === "number" ? token : null
}

/** Ids each router may hand out before the next router's range begins. */
// Abandoned requests remembered as possibly still running; past that, none is ever taken for the only one in flight.
const MAX_UNFINISHED = 1_024

const ID_RANGE = 1_000_000_000

/** The methods of requests nothing is ever attributed to (`quiet`). */
const QUIET_METHODS: ReadonlySet<string> = new Set(["ping", "subscriptions/listen"])
let routersMade = 0

/**
 * Many client sessions share one upstream connection: every outgoing request gets a fresh upstream
 * id (and progress token), and answers and progress are routed back to the session and id that
 * asked. No I/O; the caller sends what it returns.
 */
export class JsonRpcIdRewriter {
  /**
   * Each router (one per upstream connection) numbers from its own range: after a reconnection to
   * the same server process, a late answer to a request of the old connection can never be taken
   * for the answer to a new request that happens to reuse its id.
   */
  private nextId = (routersMade++ % 9_000_000) * ID_RANGE + 1
  private readonly pending = new Map<number, Pending>()
  private readonly byToken = new Map<string, number>()
  /**
   * Requests pending that no log message or server request is ever about: pings (the DTMA checking
   * the server, answered at once) and `subscriptions/listen` streams (a 2026-07-28 server's; logging.mdx:
   * never a log message on one). Over one shared stream they never make another request's messages
   * unattributable, and one left unanswered is not taken for a request still running.
   */
  private readonly quiet = new Set<number>()
  /** Requests abandoned and never answered: the server may still be working on them (and logging). */
  private readonly unfinished = new Set<number>()
  private unfinishedOverflowed = false

  get size(): number {
    return this.pending.size
  }

  /** The request to send upstream for `request` from `sessionId`, with ids rewritten. */
  outbound(sessionId: string, request: JsonRpcRequest, waiter: Waiter): JsonRpcRequest {
    const id = this.nextId++
    const clientToken = progressTokenOf(request.params)
    this.pending.set(id, { sessionId, clientId: request.id, clientToken, waiter })
    if (QUIET_METHODS.has(request.method)) this.quiet.add(id)
    if (clientToken === null) return { ...request, id }
    const upstreamToken = `dtma-${id}`
    this.byToken.set(upstreamToken, id)
    const meta = { ...(request.params?.["_meta"] as Record<string, unknown>), progressToken: upstreamToken }
    return { ...request, id, params: { ...request.params, _meta: meta } }
  }

  /** Delivers an upstream answer to its waiter under the client's own id; false if nobody waits. */
  inbound(response: JsonRpcResponse): boolean {
    const id = typeof response.id === "number" ? response.id : Number.NaN
    const entry = this.pending.get(id)
    if (entry === undefined) {
      // A late answer to an abandoned request: the server is done with it.
      this.unfinished.delete(id)
      return false
    }
    this.forget(id, entry)
    entry.waiter.onResponse({ ...response, id: entry.clientId })
    return true
  }

  /** Routes a `notifications/progress` to the request it belongs to, under the client's token. */
  progress(notification: JsonRpcNotification): boolean {
    const token = notification.params?.["progressToken"]
    const id = typeof token === "string" ? this.byToken.get(token) : undefined
    const entry = id === undefined ? undefined : this.pending.get(id)
    if (entry === undefined || entry.clientToken === null) return false
    entry.waiter.onProgress?.({ ...notification, params: { ...notification.params, progressToken: entry.clientToken } })
    return true
  }

  /**
   * Delivers a server's `notifications/message` to the request it was sent about: the one whose
   * stream carried it, over a transport that tells; over one shared stream, the one request in
   * flight (pings and listens aside) when exactly one is and no request abandoned unanswered may still be running. False when
   * it cannot be attributed, or its request's sender takes no log messages.
   */
  logMessage(notification: JsonRpcNotification, origin: NotificationOrigin): boolean {
    const entry = this.attributed(origin)
    if (entry?.waiter.onLogMessage === undefined) return false
    entry.waiter.onLogMessage(notification)
    return true
  }

  /**
   * Hands a request the server sent (not `ping`) to the sender of the request it was sent about,
   * found as `logMessage` finds it. Returns null when handed over, else why nobody can answer it.
   */
  serverRequest(request: JsonRpcRequest, origin: NotificationOrigin): string | null {
    const entry = this.attributed(origin)
    if (entry === undefined) {
      return origin.separated
        ? `the DTMA relays ${request.method} only on the event stream of the client request it is about`
        : `the DTMA relays ${request.method} only while exactly one client request is in flight on this connection, to its client`
    }
    if (entry.waiter.onServerRequest === undefined) return `it came about the DTMA's own request, and the DTMA has nothing to answer ${request.method} with`
    entry.waiter.onServerRequest(request)
    return null
  }

  private attributed(origin: NotificationOrigin): Pending | undefined {
    if (origin.separated) return typeof origin.relatedId === "number" ? this.pending.get(origin.relatedId) : undefined
    if (this.pending.size - this.quiet.size !== 1 || this.unfinished.size > 0 || this.unfinishedOverflowed) return undefined
    for (const [id, entry] of this.pending) if (!this.quiet.has(id)) return entry
    return undefined
  }

  /**
   * Stops waiting for upstream request `id`; returns the cancellation to send upstream, if it was
   * pending. The server may go on with it (a cancellation is a request, not a guarantee) until it answers.
   */
  abandon(id: number, reason: string): JsonRpcNotification | null {
    const entry = this.pending.get(id)
    if (entry === undefined) return null
    // A ping or a listen left unanswered is not remembered as possibly running: nothing comes about one.
    const running = !this.quiet.has(id)
    this.forget(id, entry)
    if (running && this.unfinished.size < MAX_UNFINISHED) this.unfinished.add(id)
    else if (running) this.unfinishedOverflowed = true
    return { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason } }
  }

  /** Fails every pending request (the connection closed). */
  failAll(error: { readonly code: number; readonly message: string }): void {
    const entries = [...this.pending]
    this.pending.clear()
    this.byToken.clear()
    this.quiet.clear()
    this.unfinished.clear()
    for (const [, entry] of entries) entry.waiter.onResponse({ jsonrpc: "2.0", id: entry.clientId, error })
  }

  private forget(id: number, entry: Pending): void {
    this.pending.delete(id)
    this.quiet.delete(id)
    if (entry.clientToken !== null) this.byToken.delete(`dtma-${id}`)
  }
}
