import { connectionOf, type SupervisedServer } from "./serverStateMachine.ts"

/**
 * How a server stands for a client that reaches many servers at once (the agent endpoint): whether it
 * takes calls now, what it lists, and the account tool instance grants may name it by. A server
 * takes calls while it has a live connection (healthy or degraded); starting, down, restarting,
 * stopped or stopping, it offers nothing and leaves such a client's lists until it is back.
 */
export interface ServerListing {
  readonly serving: boolean
  /** The content hash of its discovered lists and server info; null before the first discovery. */
  readonly lists: string | null
  readonly accountToolInstanceId: string | null
}

/** How `server` stands; null when there is no server (never deployed, or removed). */
export const listingOf = (server: SupervisedServer | null): ServerListing | null =>
  server === null
    ? null
    : { serving: connectionOf(server.state) !== null, lists: server.snapshot?.hash ?? null, accountToolInstanceId: server.container.accountToolInstanceId }

/** Whether how a server stands changed from `before` to `after`: its clients' lists may have changed. */
export const listingChanged = (before: ServerListing | null, after: ServerListing | null): boolean =>
  before === null || after === null
    ? before !== after
    : before.serving !== after.serving || before.lists !== after.lists || before.accountToolInstanceId !== after.accountToolInstanceId
