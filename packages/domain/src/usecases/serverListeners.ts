import type { JsonRpcNotification } from "../mcp/jsonrpc.ts"
import { listingChanged, listingOf, type ServerListing } from "../mcp/serverListing.ts"
import type { Mailbox } from "./serverInterpreter.ts"

/** A server whose client sessions must end: what they were opened on is no longer there. */
export interface McpServerGone {
  readonly name: string
  /** `removed`: no server has the name any more; `replaced`: a redeploy put a different image (or isolation) under it. */
  readonly reason: "removed" | "replaced"
}

/**
 * Who listens to the servers: their notifications by name, the ends of their client sessions
 * (`McpServerGone`), and how each stands in the lists of clients of many servers (`serverListing.ts`).
 */
export const makeServerListeners = () => {
  const listeners = new Map<string, Set<(n: JsonRpcNotification) => void>>()
  const goneListeners = new Set<(gone: McpServerGone) => void>()
  const listingListeners = new Set<(name: string) => void>()
  /** The listing each name last announced, so that a change is told once. */
  const announced = new Map<string, ServerListing>()

  /** A server notification for the clients of `name`. */
  const notify = (name: string, notification: JsonRpcNotification): void => {
    for (const listener of listeners.get(name) ?? []) listener(notification)
  }

  /** The clients of `name` must end their sessions. */
  const announce = (name: string, reason: McpServerGone["reason"]): void => {
    for (const listener of goneListeners) listener({ name, reason })
  }

  /** Tells the listing listeners when how the mailbox's server stands in the lists changed since it was last told. */
  const announceListing = (box: Mailbox): void => {
    // An agent's own instance is no server of the list (its name holds a '/', which no listed one can).
    if (box.name.includes("/")) return
    const after = listingOf(box.server)
    if (!listingChanged(announced.get(box.name) ?? null, after)) return
    if (after === null) announced.delete(box.name)
    else announced.set(box.name, after)
    for (const listener of listingListeners) {
      try {
        listener(box.name)
      } catch {
        // A listener's bug must not stop the name's mailbox: the server goes on being supervised.
      }
    }
  }

  return {
    notify,
    announce,
    announceListing,
    subscribe: (name: string, listener: (notification: JsonRpcNotification) => void): (() => void) => {
      const set = listeners.get(name) ?? new Set()
      listeners.set(name, set)
      set.add(listener)
      return () => void set.delete(listener)
    },
    subscribeGone: (listener: (gone: McpServerGone) => void): (() => void) => {
      goneListeners.add(listener)
      return () => void goneListeners.delete(listener)
    },
    subscribeListings: (listener: (name: string) => void): (() => void) => {
      listingListeners.add(listener)
      return () => void listingListeners.delete(listener)
    },
  }
}

export type ServerListeners = ReturnType<typeof makeServerListeners>
