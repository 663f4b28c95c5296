import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { ErrorCodes, type JsonRpcRequest, type JsonRpcResponse } from "./jsonrpc.ts"
import { listChangesFilterOf } from "./modernUpstream.ts"

type Fields = Readonly<Record<string, unknown>>

export interface ModernListensDeps {
  /** Opens a `subscriptions/listen` with this `notifications` filter; runs until the stream ends. */
  readonly listen: (filter: Fields) => Effect.Effect<void>
  /** Where the streams live: they end with it (the connection's scope). */
  readonly scope: Scope.Scope
}

/**
 * The DTMA's own `subscriptions/listen` streams to a server that speaks only 2026-07-28
 * (subscriptions.mdx), which sends notifications on no other: one for the list changes its
 * capabilities announce, for the session's life, and one per resource a client subscribed to — the
 * `resources/subscribe` and `resources/unsubscribe` the hub sends (once per resource for all its
 * clients, of either era: a 2026-07-28 client's listen subscribes so too), which the revision no
 * longer has, are answered here, the first by opening a listen for that resource, the second by
 * ending it. What comes on them reaches the session's listeners as a 2025-era server's notifications.
 */
export const makeModernListens = (deps: ModernListensDeps) => {
  const resources = new Map<string, Fiber.Fiber<void>>()
  const open = (filter: Fields) => Effect.forkIn(deps.listen(filter), deps.scope)

  /** The list changes `capabilities` announce (`listChanged`), listened to for the session's life; nothing when none. */
  const forChanges = (capabilities: Fields): Effect.Effect<void> => {
    const filter = listChangesFilterOf(capabilities)
    return filter === null ? Effect.void : Effect.asVoid(open(filter))
  }

  const answered = (request: JsonRpcRequest): JsonRpcResponse => ({ jsonrpc: "2.0", id: request.id, result: {} })

  /** A 2025-era `resources/subscribe` or `resources/unsubscribe`, served by opening or ending that resource's listen. */
  const subscription = (request: JsonRpcRequest): Effect.Effect<JsonRpcResponse> =>
    Effect.suspend((): Effect.Effect<JsonRpcResponse> => {
      const uri = request.params?.["uri"]
      if (typeof uri !== "string")
        return Effect.succeed({ jsonrpc: "2.0", id: request.id, error: { code: ErrorCodes.InvalidParams, message: `${request.method} needs a uri` } })
      if (request.method === "resources/unsubscribe") {
        const fiber = resources.get(uri)
        resources.delete(uri)
        return fiber === undefined ? Effect.succeed(answered(request)) : Effect.as(Fiber.interrupt(fiber), answered(request))
      }
      if (resources.has(uri)) return Effect.succeed(answered(request))
      return open({ resourceSubscriptions: [uri] }).pipe(
        Effect.map((fiber) => {
          resources.set(uri, fiber)
          return answered(request)
        }),
      )
    })

  return { forChanges, subscription }
}

/** The requests `makeModernListens` answers for a 2025-era requester of a modern server. */
export const isSubscriptionRequest = (method: string): boolean => method === "resources/subscribe" || method === "resources/unsubscribe"
