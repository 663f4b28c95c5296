import type { Context as TraceContext, Tracer } from "@opentelemetry/api"
import { ErrorCodes, type JsonRpcId, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from "@dtma/domain"
import { NOTHING_TO_STOP, type Stop } from "./answerRequest.ts"
import { SUBSCRIPTION_ID_KEY } from "./eraOf.ts"
import type { ModernCall } from "./modernExchange.ts"
import { jsonRpcError, PROXY_ERROR_TABLE } from "./proxyErrorTable.ts"
import type { Authorized } from "./requestAccess.ts"
import type { Answering, ReachMember, Routed, SessionReach } from "./SessionReach.ts"
import { callEndOf, type CallTally } from "./callTally.ts"
import { traceMcpRequest } from "./traceMcpRequest.ts"
import { isObject } from "./isObject.ts"

// `subscriptions/listen` (MCP 2026-07-28, basic/patterns/subscriptions.mdx): a modern client's
// stream of list changes and resource updates, on the answer to its own request.

/** What a listen asks for (its `notifications` filter). */
export interface ListenFilter {
  readonly toolsListChanged?: boolean
  readonly promptsListChanged?: boolean
  readonly resourcesListChanged?: boolean
  readonly resourceSubscriptions?: ReadonlyArray<string>
}

/** Which list changes the server behind the endpoint announces at all. */
export interface ListChanges {
  readonly tools: boolean
  readonly prompts: boolean
  readonly resources: boolean
}

const LISTS = [
  ["toolsListChanged", "tools", "notifications/tools/list_changed"],
  ["promptsListChanged", "prompts", "notifications/prompts/list_changed"],
  ["resourcesListChanged", "resources", "notifications/resources/list_changed"],
] as const

/**
 * The most resources one listen may subscribe to: each is a `resources/subscribe` upstream, which
 * the rate limits charge and the audit records as a 2025-era client's own would be.
 */
export const MAX_LISTEN_RESOURCES = 100

/** The filter of a listen's params, or what is wrong with it. */
export const listenFilterOf = (params: Readonly<Record<string, unknown>> | undefined): ListenFilter | { readonly invalid: string } => {
  const filter = params?.["notifications"] ?? {}
  if (!isObject(filter)) return { invalid: "notifications must be an object" }
  for (const [key] of LISTS) if (filter[key] !== undefined && typeof filter[key] !== "boolean") return { invalid: `notifications.${key} must be a boolean` }
  const uris = filter["resourceSubscriptions"]
  if (uris !== undefined && !(Array.isArray(uris) && uris.every((u) => typeof u === "string")))
    return { invalid: "notifications.resourceSubscriptions must be an array of strings" }
  if (uris !== undefined && uris.length > MAX_LISTEN_RESOURCES)
    return { invalid: `notifications.resourceSubscriptions names ${uris.length} resources; a listen may subscribe to at most ${MAX_LISTEN_RESOURCES}` }
  return filter as ListenFilter
}

/** Where a listen writes: its answer's event stream, and its one response. */
export interface ListenOutput {
  /** An event of the listen's stream; false when it cannot be written. */
  readonly notify: (notification: JsonRpcNotification) => boolean
  readonly settle: (response: JsonRpcResponse) => void
}

/**
 * One open listen: nothing is sent before its acknowledgement, then only what its filter asked
 * for and was honoured, each notification tagged with the listen's id.
 */
export class ModernListen {
  readonly #id: JsonRpcId
  readonly #output: ListenOutput
  #honoured: ListenFilter | null = null
  #uris: ReadonlySet<string> = new Set()

  constructor(id: JsonRpcId, output: ListenOutput) {
    this.#id = id
    this.#output = output
  }

  #tagged(method: string, params: Readonly<Record<string, unknown>> = {}): JsonRpcNotification {
    const meta = isObject(params["_meta"]) ? params["_meta"] : {}
    return { jsonrpc: "2.0", method, params: { ...params, _meta: { ...meta, [SUBSCRIPTION_ID_KEY]: this.#id } } }
  }

  /** Sends the acknowledgement: what of `asked` is honoured (the lists the server announces, the resources it subscribed). */
  acknowledge(asked: ListenFilter, lists: ListChanges, subscribed: ReadonlyArray<string>): void {
    const honoured: Record<string, unknown> = {}
    for (const [key, list] of LISTS) if (asked[key] === true && lists[list]) honoured[key] = true
    if (asked.resourceSubscriptions !== undefined) honoured["resourceSubscriptions"] = subscribed
    this.#honoured = honoured
    this.#uris = new Set(subscribed)
    this.#output.notify(this.#tagged("notifications/subscriptions/acknowledged", { notifications: honoured }))
  }

  /** A server notification: passed on when the listen is acknowledged and asked for it. */
  deliver(notification: JsonRpcNotification): void {
    const honoured = this.#honoured
    if (honoured === null) return
    const list = LISTS.find(([, , method]) => method === notification.method)
    const wanted =
      list !== undefined
        ? honoured[list[0]] === true
        : notification.method === "notifications/resources/updated" && this.#uris.has(String(notification.params?.["uri"]))
    if (wanted) this.#output.notify(this.#tagged(notification.method, notification.params))
  }

  /** Ends the listen gracefully: its response, then the stream closes. */
  close(): void {
    this.#output.settle({ jsonrpc: "2.0", id: this.#id, result: { _meta: { [SUBSCRIPTION_ID_KEY]: this.#id } } })
  }
}

/** Where a listen's upstream subscriptions are accounted for, as a 2025-era client's `resources/subscribe` is. */
export interface UpstreamAccounting {
  /** Each subscription is one call of the listen's POST, for its audit record. */
  readonly tally: CallTally
  readonly tracer: Tracer
  /** The POST's span: the parent of each subscription's span. */
  readonly trace: TraceContext
}

export interface ListenRouteOptions {
  readonly request: JsonRpcRequest
  readonly authorized: Authorized
  /** The listen's session, as its reach knows it. */
  readonly member: ReachMember
  readonly reach: SessionReach
  readonly modern: ModernCall
  /** The listen's answer, an event stream. */
  readonly answer: { notify(notification: JsonRpcNotification): boolean }
  /** The listen is open: the session hands it the server notifications that reach it. */
  readonly opened: (listen: ModernListen) => void
  readonly upstream: UpstreamAccounting
}

/**
 * Subscribes one resource of a listen as a 2025-era client's `resources/subscribe` is served: routed
 * within its caller's grants, with a span and an audit record of its own. Resolves whether it was taken.
 */
const subscribe = (options: ListenRouteOptions, answering: Answering, uri: string, id: JsonRpcId, stops: Array<Stop>): Promise<boolean> =>
  new Promise((resolve) => {
    const { tally, tracer, trace } = options.upstream
    const route = options.reach.route({ jsonrpc: "2.0", id, method: "resources/subscribe", params: { uri } }, options.authorized, options.member)
    const traced = traceMcpRequest(tracer, { parent: trace, request: route.request, server: route.server, sessionId: null })
    const ended = tally.begin({ request: route.request, server: route.server, sessionId: null, traceId: traced.traceId ?? null })
    let settled = false
    const settle = (response: JsonRpcResponse | null, deniedFor?: string): void => {
      if (settled) return
      settled = true
      traced.end(response)
      ended(callEndOf(response, deniedFor, 0))
      resolve(response !== null && "result" in response)
    }
    const outcome = route.answer(traced.request, { ...answering, settle })
    if (typeof outcome === "function")
      return void stops.push(() => {
        outcome()
        settle(null)
      })
    traced.end(outcome)
    settle(jsonRpcError(id, PROXY_ERROR_TABLE[outcome._tag].code, outcome._tag))
  })

/**
 * A modern `subscriptions/listen`, answered by its session: the session joins its reach (list
 * changes and the updates of what it subscribes to reach it from now on), subscribes each resource
 * asked for as a `resources/subscribe` of its caller's would be (within the same grants, shared
 * upstream per URI, and — for what the caller may not see — taken as a server takes a subscription
 * to what it does not have), then acknowledges what is honoured. Its answer stays open until the
 * client closes it or the DTMA ends it.
 */
export const listenRoute = (options: ListenRouteOptions): Routed => {
  const { request, member, reach, modern, answer } = options
  return {
    server: reach.server,
    request,
    answer: (routed, answering) => {
      const filter = listenFilterOf(routed.params)
      if ("invalid" in filter) {
        answering.settle(jsonRpcError(routed.id, ErrorCodes.InvalidParams, `Invalid params: ${filter.invalid}`))
        return NOTHING_TO_STOP
      }
      const listen = new ModernListen(routed.id, { notify: (n) => answer.notify(n), settle: answering.settle })
      options.opened(listen)
      reach.join(member)
      const uris = filter.resourceSubscriptions ?? []
      const stops: Array<Stop> = []
      const subscribed = uris.map((uri, i) => subscribe(options, answering, uri, `${String(routed.id)}/subscribe-${i}`, stops))
      void Promise.all(subscribed).then((ok) =>
        listen.acknowledge(
          filter,
          modern.listChanges(),
          uris.filter((_, i) => ok[i]),
        ),
      )
      return () => {
        for (const stop of stops) stop()
      }
    },
  }
}
