import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import { InstanceNotFound } from "../errors.ts"
import { isolatedInstanceName } from "../instanceName.ts"
import type { IsolatedFor, Isolation, ManagedContainer } from "../ManagedInstance.ts"
import { IsolatedInstanceLimit, McpServerUnavailable } from "../mcp/mcpErrors.ts"
import type { IsolatedInstanceView, McpServerView } from "../mcp/McpServerView.ts"
import { firstStep, healthOf, type SupervisedServer } from "../mcp/serverStateMachine.ts"
import type { RuntimeFailure } from "../ports/ContainerRuntime.ts"
import type { DeployRequest } from "./deployRequest.ts"
import type { Instances } from "./Instances.ts"
import type { McpCredentialFlow } from "./mcpCredentials.ts"
import type { Interpreter, Mailbox } from "./serverInterpreter.ts"

/** Whom a server's upstream serves; an agent's own instance is never itself `per_agent`. */
export const isolationOf = (server: SupervisedServer): Isolation =>
  server.container.isolatedFor == null ? (server.container.mcp?.isolation ?? "shared") : "shared"

/** Whether a server takes calls: its container runs and it answers (or is about to be pinged again). */
export const serving = (server: SupervisedServer): boolean => {
  const health = healthOf(server.state)
  return server.container.state === "running" && (health === "healthy" || health === "degraded")
}

/** An agent's instance its next call starts: stopped with its server, or given up on after crashes (an agent's call is its operator's start). */
const needsStart = (server: SupervisedServer): boolean => server.state._tag === "Stopped" || server.state._tag === "CircuitOpen"

/** The request an agent's instance is created from: its server's, under the instance's own name. */
export const isolatedRequestOf = (base: DeployRequest, isolatedFor: IsolatedFor): DeployRequest => ({
  ...base,
  name: isolatedInstanceName(isolatedFor),
  isolatedFor,
})

/** One agent's instance of a server, as the pool keeps it (Unix ms). */
interface Entry {
  readonly agent: string
  readonly name: string
  readonly createdAt: number
  lastUsedAt: number
}

export interface IsolatedInstancesDeps {
  readonly mailboxes: ReadonlyMap<string, Mailbox>
  /** Runs `work` in the name's mailbox, after whatever came before it. */
  readonly request: (name: string, work: (box: Mailbox) => Effect.Effect<void, unknown>) => Effect.Effect<McpServerView | null, unknown>
  readonly interpreter: Pick<Interpreter, "begin" | "run" | "apply" | "drain" | "sessionOf">
  readonly flow: McpCredentialFlow
  readonly instances: Instances
  readonly idleMs: number
  readonly max: number
  /** Clients of `name` must end their sessions. */
  readonly announce: (name: string, reason: "removed" | "replaced") => void
}

/**
 * The agents' own instances of `per_agent` servers: each is an ordinary server under a name of its
 * own (`isolatedInstanceName`), in its own mailbox, hidden from the server list. The pool creates
 * an agent's on its first call (one creation however many calls come at once), keeps when each was
 * last used, removes the idle ones, holds each server to its most, and is rebuilt from the
 * containers' labels after a restart. A stdio server's instance is a container of its own; a network
 * server's is a connection of its own to the server's container (`Mailbox.borrowsContainer`).
 */
export const makeIsolatedInstances = (deps: IsolatedInstancesDeps) => {
  const { mailboxes, request, interpreter, flow, instances } = deps
  const pools = new Map<string, Map<string, Entry>>()
  /**
   * Instances decided to go whose container or credentials may still be there, by name → server: a
   * call waits for a new one rather than use a leaving one, each counts against its server's most,
   * and one whose removal failed (the runtime did not answer) is removed again at each reap.
   */
  const leaving = new Map<string, string>()
  /** Names whose removal is queued or under way now. */
  const removing = new Set<string>()
  /** Servers being removed: no agent's instance of theirs is made from their removal's start. */
  const closing = new Set<string>()
  const closingError = (server: string) => new McpServerUnavailable({ name: server, health: "stopping", detail: null })

  const parentOf = (server: string): SupervisedServer | null => {
    const found = mailboxes.get(server)?.server ?? null
    return found === null || found.container.isolatedFor != null ? null : found
  }
  const poolOf = (server: string): Map<string, Entry> => {
    const pool = pools.get(server) ?? new Map<string, Entry>()
    pools.set(server, pool)
    return pool
  }

  /** Creates the agent's instance in its mailbox, unless it has one; the pool entry must still be there. */
  const create = (box: Mailbox, entry: Entry, server: string) =>
    Effect.gen(function* () {
      if (box.server !== null) return
      const parent = parentOf(server)
      if (parent === null || isolationOf(parent) !== "per_agent" || pools.get(server)?.get(entry.agent) !== entry) {
        return yield* new InstanceNotFound({ name: server })
      }
      if (closing.has(server)) return yield* closingError(server)
      // What a removal that failed left under the name goes first: no two containers of one instance.
      if (leaving.has(box.name)) yield* removeWork(box)
      const isolatedFor = { server, agent: entry.agent }
      if ((parent.container.mcp?.transport ?? "stdio") !== "stdio") {
        box.borrowsContainer = true
        const borrowed: ManagedContainer = { ...parent.container, name: box.name, isolatedFor }
        return yield* interpreter.begin(box, firstStep(borrowed, "deploy"))
      }
      const plain = isolatedRequestOf(yield* flow.replay(parent.container), isolatedFor)
      const readied = yield* flow.readied(plain)
      const container = yield* instances.deploy(readied).pipe(Effect.tapError(() => flow.release(box.name)))
      yield* interpreter.begin(box, firstStep(container, "deploy")).pipe(Effect.tapError(() => flow.release(box.name)))
      yield* flow.track(container, plain)
    })

  /**
   * Removes one instance, in its mailbox: calls in flight finish (bounded), its credentials are
   * wiped (even when its container cannot go now), its container goes (unless borrowed). It stops
   * `leaving` only once its container is gone.
   */
  function removeWork(box: Mailbox) {
    return Effect.gen(function* () {
      const borrowed = box.borrowsContainer === true
      if (box.server !== null) {
        const live = interpreter.sessionOf(box)
        if (live !== undefined) yield* interpreter.drain(live)
        yield* interpreter.run(box, { _tag: "CancelTimers" })
        yield* interpreter.run(box, { _tag: "Forget" })
      }
      if (!borrowed) yield* instances.remove(box.name).pipe(Effect.catchTag("InstanceNotFound", () => Effect.void))
      leaving.delete(box.name)
    }).pipe(Effect.ensuring(flow.release(box.name)))
  }

  /** Marks instances of `server` as leaving, at once: no call takes them from here on. */
  const markLeaving = (server: string, names: Iterable<string>): void => {
    for (const name of names) leaving.set(name, server)
  }

  /** Removes a leaving instance (once at a time); a failure keeps it leaving, for the next reap. */
  const removeInstance = (name: string) =>
    Effect.suspend(() => {
      if (removing.has(name)) return Effect.void
      removing.add(name)
      return request(name, removeWork).pipe(Effect.ignore, Effect.ensuring(Effect.sync(() => removing.delete(name))))
    })

  /** How many instances `server` holds: its pool's, and those leaving that no pool entry names again. */
  const heldBy = (server: string, pool: ReadonlyMap<string, Entry>): number => {
    const pooled = new Set([...pool.values()].map((e) => e.name))
    let held = pool.size
    for (const [name, of] of leaving) if (of === server && !pooled.has(name)) held++
    return held
  }

  /**
   * The name whose session serves `agent` on `server`: the server's own when it is shared (or the
   * caller is no agent), else the agent's instance, created on its first call (which waits until
   * it is ready) and started again if it was stopped.
   */
  const instanceFor = (server: string, agent: string | null): Effect.Effect<string, InstanceNotFound | McpServerUnavailable | IsolatedInstanceLimit> =>
    Effect.gen(function* () {
      const parent = parentOf(server)
      if (parent === null) return yield* new InstanceNotFound({ name: server })
      if (agent === null || isolationOf(parent) !== "per_agent") return server
      if (closing.has(server)) return yield* closingError(server)
      // An operator's stop holds for every agent's instance; a server restarting after a crash holds for none.
      const health = healthOf(parent.state)
      if (health === "stopped" || health === "stopping") return yield* new McpServerUnavailable({ name: server, health, detail: parent.lastError })
      const now = yield* Clock.currentTimeMillis
      const pool = poolOf(server)
      let entry = pool.get(agent)
      if (entry === undefined) {
        if (heldBy(server, pool) >= deps.max) return yield* new IsolatedInstanceLimit({ name: server, limit: deps.max })
        entry = { agent, name: isolatedInstanceName({ server, agent }), createdAt: now, lastUsedAt: now }
        pool.set(agent, entry)
      }
      entry.lastUsedAt = now
      const { name } = entry
      const current = mailboxes.get(name)?.server ?? null
      if (current !== null && !leaving.has(name) && !needsStart(current)) return name
      const made = entry
      const work = (box: Mailbox) =>
        box.server !== null && needsStart(box.server) ? interpreter.apply(box, { _tag: "StartRequested", restart: false }) : create(box, made, server)
      yield* request(name, work).pipe(
        Effect.catch((e) => {
          // A creation that failed leaves no entry behind: the next call tries again.
          if (pools.get(server)?.get(agent) === made && mailboxes.get(name)?.server == null) pools.get(server)?.delete(agent)
          return Effect.fail(
            e instanceof InstanceNotFound || e instanceof McpServerUnavailable
              ? e
              : new McpServerUnavailable({
                  name: server,
                  health: "starting",
                  detail: `no instance could be started for this agent: ${e instanceof Error ? e.message : String(e)}`,
                }),
          )
        }),
      )
      return name
    })

  /**
   * Removes every instance of `server` (its removal, a redeploy, a switch to `shared`), and any
   * container of one the pool does not know (never an orphan). Returns how many it removed.
   */
  const removeAll = (server: string): Effect.Effect<number, RuntimeFailure> =>
    Effect.gen(function* () {
      const pool = pools.get(server)
      pools.delete(server)
      const known = [...(pool?.values() ?? [])].map((e) => e.name)
      const found = (yield* instances.listIsolated()).filter((c) => c.isolatedFor?.server === server).map((c) => c.name)
      const names = [...new Set([...known, ...found])]
      markLeaving(server, names)
      yield* Effect.forEach(names, removeInstance, { concurrency: 4, discard: true })
      return names.length
    })

  /**
   * Runs `removal` (the server's) with the server closing: an agent's call that races it is refused
   * as unavailable instead of making an instance that would outlive the server.
   */
  const closingWhile = <A, E, R>(server: string, removal: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      closing.add(server)
      return removal.pipe(Effect.ensuring(Effect.sync(() => closing.delete(server))))
    })

  /** Stops every instance of `server` (its stop): each starts again on its agent's next call. */
  const stopAll = (server: string) =>
    Effect.forEach(
      [...(pools.get(server)?.values() ?? [])],
      (e) => request(e.name, (box) => (box.server === null ? Effect.void : interpreter.apply(box, { _tag: "StopRequested" }))).pipe(Effect.ignore),
      { concurrency: 4, discard: true },
    )

  /** Removes the instances unused for the idle time with no call in flight, and again those whose removal failed. */
  const reapIdle = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    for (const [server, pool] of pools) {
      for (const [agent, entry] of pool) {
        const box = mailboxes.get(entry.name)
        const busy = box === undefined ? false : (interpreter.sessionOf(box)?.load() ?? 0) > 0
        if (busy || now - entry.lastUsedAt < deps.idleMs) continue
        pool.delete(agent)
        markLeaving(server, [entry.name])
      }
    }
    yield* Effect.forEach([...leaving.keys()], removeInstance, { concurrency: 4, discard: true })
  })

  /** How often idle instances are looked for: a fraction of the idle time, within 250 ms and 30 s. */
  const reapEveryMs = Math.min(30_000, Math.max(250, Math.floor(deps.idleMs / 4)))

  /** Looks for idle instances until `scope` closes. */
  const startReaper = (scope: Scope.Scope) => Effect.forkIn(Effect.forever(Effect.sleep(reapEveryMs).pipe(Effect.andThen(reapIdle))), scope)

  /**
   * Takes over the agents' instances found at start-up, after their servers: an instance of a
   * `per_agent` server is supervised again and counts as used now; one whose server is gone or no
   * longer `per_agent` is removed.
   */
  const adopt = Effect.gen(function* () {
    const found = yield* instances.listIsolated()
    const now = yield* Clock.currentTimeMillis
    yield* Effect.forEach(
      found,
      (c) => {
        const isolatedFor = c.isolatedFor!
        const parent = parentOf(isolatedFor.server)
        if (parent === null || isolationOf(parent) !== "per_agent" || c.name !== isolatedInstanceName(isolatedFor)) {
          markLeaving(isolatedFor.server, [c.name])
          return removeInstance(c.name)
        }
        const pool = poolOf(isolatedFor.server)
        if (pool.has(isolatedFor.agent)) return Effect.void
        pool.set(isolatedFor.agent, { agent: isolatedFor.agent, name: c.name, createdAt: c.createdAt * 1000, lastUsedAt: now })
        return request(c.name, (box) =>
          box.server !== null
            ? Effect.void
            : interpreter
                .begin(box, firstStep(c, "adopt"))
                .pipe(Effect.ensuring(Effect.suspend(() => (box.life === null ? Effect.void : Effect.forkIn(flow.restore(c), box.life.scope))))),
        ).pipe(Effect.ignore)
      },
      { concurrency: 4, discard: true },
    )
    return found.map((c) => c.name)
  })

  /** The instances of `server`, by agent id. */
  const viewsOf = (server: string): ReadonlyArray<IsolatedInstanceView> =>
    [...(pools.get(server)?.values() ?? [])]
      .flatMap((e) => {
        const s = mailboxes.get(e.name)?.server
        if (s == null) return []
        return [
          {
            agentId: e.agent,
            containerId: s.container.containerId,
            containerName: s.container.containerName,
            containerState: s.container.state,
            healthStatus: healthOf(s.state),
            restartCount: s.restartCount,
            lastError: s.lastError,
            createdAt: new Date(e.createdAt).toISOString(),
            lastUsedAt: new Date(e.lastUsedAt).toISOString(),
          },
        ]
      })
      .sort((a, b) => a.agentId.localeCompare(b.agentId))

  /** The name of `agent`'s instance of `server`, if it has one now. */
  const nameOf = (server: string, agent: string): string | null => pools.get(server)?.get(agent)?.name ?? null

  return { instanceFor, removeAll, closingWhile, stopAll, startReaper, adopt, viewsOf, nameOf, reapEveryMs, announce: deps.announce }
}

export type IsolatedInstances = ReturnType<typeof makeIsolatedInstances>
