import * as Effect from "effect/Effect"
import { InstanceNotFound } from "../errors.ts"
import type { Isolation } from "../ManagedInstance.ts"
import { McpServerUnavailable } from "../mcp/mcpErrors.ts"
import { viewOf, type McpServerView } from "../mcp/McpServerView.ts"
import { healthOf, type SupervisedServer } from "../mcp/serverStateMachine.ts"
import type { UpstreamSession } from "../mcp/UpstreamSession.ts"
import { isolationOf, type IsolatedInstances } from "./IsolatedInstances.ts"
import type { Interpreter, Mailbox } from "./serverInterpreter.ts"

export interface ServerLookupsDeps {
  readonly mailboxes: ReadonlyMap<string, Mailbox>
  readonly interpreter: Pick<Interpreter, "sessionOf">
  /** Late-bound: the pool is made after the lookups it uses. */
  readonly isolated: () => Pick<IsolatedInstances, "viewsOf" | "nameOf">
}

/**
 * What callers read of the servers, each read when the effect runs: a server as callers name it
 * (never an agent's own instance, which is the DTMA's), its view with its agents' instances, its
 * live session, the name of an agent's instance.
 */
export const makeServerLookups = (deps: ServerLookupsDeps) => {
  const { mailboxes, interpreter } = deps

  /** The server under a name now: a caller's server or an agent's own instance of one; null for none. */
  const supervised = (name: string): SupervisedServer | null => mailboxes.get(name)?.server ?? null

  // Read when the effect runs, not when it is built: an effect built early must not act on a stale read.
  /** A server or an agent's own instance of one. */
  const findAny = (name: string): Effect.Effect<SupervisedServer, InstanceNotFound> =>
    Effect.suspend(() => {
      const server = supervised(name)
      return server === null ? Effect.fail(new InstanceNotFound({ name })) : Effect.succeed(server)
    })

  /** A server as callers name it: never an agent's own instance. */
  const find = (name: string): Effect.Effect<SupervisedServer, InstanceNotFound> =>
    findAny(name).pipe(
      Effect.filterOrFail(
        (server) => server.container.isolatedFor == null,
        () => new InstanceNotFound({ name }),
      ),
    )

  /** A caller's server under `name` now, synchronously; null for none (an agent's instance is none). */
  const listed = (name: string): SupervisedServer | null => {
    const server = supervised(name)
    return server === null || server.container.isolatedFor != null ? null : server
  }

  /** The view of a server, with its agents' instances when it is `per_agent`. */
  const viewWith = (server: SupervisedServer): McpServerView =>
    isolationOf(server) === "per_agent" ? { ...viewOf(server), instances: deps.isolated().viewsOf(server.name) } : viewOf(server)

  // The last list and the servers it was made of: a server's state is replaced, never changed in
  // place, so while every mailbox holds the same server the list is the same (discovery polls read
  // it thousands of times a second). Not kept while a per_agent server is listed: its agents'
  // instances change apart from it.
  let last: { readonly servers: ReadonlyArray<SupervisedServer | null>; readonly views: ReadonlyArray<McpServerView> } | null = null

  /** Every server callers name, viewed, in name order. */
  const list = (): ReadonlyArray<McpServerView> => {
    const servers = Array.from(mailboxes.values(), (box) => box.server)
    if (last !== null && last.servers.length === servers.length && servers.every((server, i) => server === last?.servers[i])) return last.views
    const views = servers
      .flatMap((server) => (server === null || server.container.isolatedFor != null ? [] : [viewWith(server)]))
      .sort((a, b) => a.instanceName.localeCompare(b.instanceName))
    last = views.some((v) => v.isolation === "per_agent") ? null : { servers, views }
    return views
  }

  return {
    find,
    findAny,
    viewWith,
    isMcpServer: (name: string): boolean => listed(name) !== null,
    supervises: (name: string): boolean => supervised(name) !== null,
    list,
    get: (name: string) => find(name).pipe(Effect.map(viewWith)),
    isolationOf: (name: string): Isolation | null => {
      const server = listed(name)
      return server === null ? null : isolationOf(server)
    },
    session: (name: string): Effect.Effect<UpstreamSession, InstanceNotFound | McpServerUnavailable> =>
      findAny(name).pipe(
        Effect.flatMap((server) => {
          const session = interpreter.sessionOf(mailboxes.get(name)!)
          return session !== undefined && session.isOpen()
            ? Effect.succeed(session)
            : Effect.fail(new McpServerUnavailable({ name, health: healthOf(server.state), detail: server.lastError }))
        }),
      ),
    /** The server itself, or with `agentId` the agent's own instance of it (a `per_agent` server's). */
    serverOrAgents: (name: string, agentId: string | undefined): Effect.Effect<SupervisedServer, InstanceNotFound> =>
      find(name).pipe(
        Effect.flatMap((server) => {
          if (agentId === undefined) return Effect.succeed(server)
          const own = deps.isolated().nameOf(name, agentId)
          return own === null ? Effect.fail(new InstanceNotFound({ name: `${name} (agent ${agentId})` })) : findAny(own)
        }),
      ),
  }
}
