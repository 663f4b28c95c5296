import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import { InstanceAlreadyExists, InstanceNotFound, InvalidInstanceSpec, type NoOAuthConnections } from "../errors.ts"
import type { Isolation, ManagedContainer } from "../ManagedInstance.ts"
import type { JsonRpcNotification } from "../mcp/jsonrpc.ts"
import { McpServerUnavailable, type IsolatedInstanceLimit, type McpServerNotReady } from "../mcp/mcpErrors.ts"
import { viewOf, type McpServerView } from "../mcp/McpServerView.ts"
import { listingChanged, listingOf, type ServerListing } from "../mcp/serverListing.ts"
import { firstStep, healthOf, type ServerEvent, type SupervisedServer } from "../mcp/serverStateMachine.ts"
import type { UpstreamSession } from "../mcp/UpstreamSession.ts"
import type { ContainerEvent, ContainerEvents } from "../ports/ContainerEvents.ts"
import type { ContainerLogs, LogLine } from "../ports/ContainerLogs.ts"
import type { ContainerRuntime, RuntimeFailure } from "../ports/ContainerRuntime.ts"
import type { McpConnector } from "../ports/McpConnector.ts"
import type { DeployRequest } from "./deployRequest.ts"
import type { DeployError, Instances, ManageError, StartError } from "./Instances.ts"
import { makeMcpCredentialFlow, type CredentialError } from "./mcpCredentials.ts"
import { isolationOf, makeIsolatedInstances, serving } from "./IsolatedInstances.ts"
import { DEFAULT_ISOLATED_IDLE_MS, DEFAULT_ISOLATED_MAX, type McpServersSettings } from "./mcpServersSettings.ts"
import { makeInterpreter, type Mailbox, type Message } from "./serverInterpreter.ts"
import { makeServerOutput } from "./serverOutput.ts"
import type { EnvRenewal, OAuthConnectionView, ServerCredentials } from "./ServerCredentials.ts"

/** A server whose client sessions must end: what they were opened on is no longer there. */
export interface McpServerGone {
  readonly name: string
  /** `removed`: no server has the name any more; `replaced`: a redeploy put a different image under it. */
  readonly reason: "removed" | "replaced"
}

/**
 * Whether `next` runs the same server as `previous`: the same image, by id when the runtime reports
 * both (another tag of one image is the same image), else by reference.
 */
export const sameImage = (previous: ManagedContainer, next: ManagedContainer): boolean =>
  previous.imageId != null && next.imageId != null ? previous.imageId === next.imageId : previous.image === next.image

/** How a start went: it did something, or the instance was already up. */
export interface Started<A> {
  readonly outcome: "started" | "already_running"
  readonly value: A
}

export interface McpServers {
  /** Deploys and answers once the server is initialized and its capabilities listed, or rolls back. */
  deploy(request: DeployRequest): Effect.Effect<McpServerView, DeployError | McpServerNotReady | CredentialError>
  /** Takes over every MCP server container found at start-up (after `Instances.reconcile`). */
  adopt(): Effect.Effect<ReadonlyArray<string>, RuntimeFailure>
  /** Replaces a server's container (a new image, say) with zero downtime. */
  redeploy(request: DeployRequest): Effect.Effect<McpServerView, DeployError | InstanceNotFound | McpServerNotReady | CredentialError>
  start(name: string): Effect.Effect<McpServerView, StartError | McpServerNotReady>
  /**
   * Starts the server unless it is running and answering: starting one that is would reconnect it
   * and cut off every session using it. Decided in the name's turn, after every request before it:
   * a start sent while a deploy or a stop is under way waits for it, then looks.
   */
  startUnlessServing(name: string): Effect.Effect<Started<McpServerView>, StartError | McpServerNotReady>
  stop(name: string): Effect.Effect<McpServerView, ManageError>
  restart(name: string): Effect.Effect<McpServerView, StartError | McpServerNotReady>
  /** Drains in-flight calls (bounded), removes the container and forgets the server. */
  remove(name: string): Effect.Effect<void, ManageError>
  isMcpServer(name: string): boolean
  list(): ReadonlyArray<McpServerView>
  get(name: string): Effect.Effect<McpServerView, InstanceNotFound>
  /**
   * The live session for proxied calls, of a server or of an agent's own instance of one (under the
   * name `instanceFor` gave).
   */
  session(name: string): Effect.Effect<UpstreamSession, InstanceNotFound | McpServerUnavailable>
  /**
   * The name whose session serves `agentId` on server `name`: the server's own when it is `shared`
   * or the caller is no agent (null: the operator, who gets a `per_agent` server's base instance);
   * for an agent on a `per_agent` server, its own instance, created on its first call (the call
   * waits until it is ready; concurrent first calls share one creation), started again if stopped,
   * and marked used now. Refused when the server is not serving (its state is named) or already
   * runs its most instances. Completes at once when the instance is there.
   */
  /** Whom server `name`'s upstream serves, looked up synchronously; null when no server has the name. */
  isolationOf(name: string): Isolation | null
  instanceFor(name: string, agentId: string | null): Effect.Effect<string, InstanceNotFound | McpServerUnavailable | IsolatedInstanceLimit>
  /** Server notifications for `name`, across reconnections, until the returned function is called. */
  subscribe(name: string, listener: (notification: JsonRpcNotification) => void): () => void
  /**
   * Calls `listener` each time a server's client sessions must end, until the returned function is
   * called: the server was removed (by `remove` once drained, by a failed deploy's rollback, or with
   * its container removed behind the DTMA's back), or `redeploy` replaced it by a different image
   * (`sameImage`), as soon as traffic has moved to the new container (the old one then drains).
   * Never for a stop, start, restart, crash, a redeploy of the same image, or when supervision ends.
   */
  subscribeGone(listener: (gone: McpServerGone) => void): () => void
  /**
   * Calls `listener` with a server's name each time how it stands for clients of many servers (`serverListing.ts`) changes, until
   * the returned function is called: it is deployed or adopted, starts or stops taking calls (a live
   * connection or none: crashed, stopped, reconnecting, redeploying to a server that is not ready),
   * its discovered lists change, or it is removed. Told once per change, after the change is in
   * `list()`, `get()` and `session()`, and before the operator's request that made it is answered.
   */
  subscribeListings(listener: (name: string) => void): () => void
  /** The server's output; with `agentId`, that of the agent's own instance of a `per_agent` server. */
  logs(name: string, lines: number, agentId?: string): Effect.Effect<ReadonlyArray<LogLine>, InstanceNotFound | RuntimeFailure>
  /** The server's OAuth connections: states and expiry, never a token. */
  oauth(name: string): Effect.Effect<ReadonlyArray<OAuthConnectionView>, InstanceNotFound>
  /** Fetches the server's tokens now and delivers them before answering. */
  refreshCredentials(name: string): Effect.Effect<ReadonlyArray<OAuthConnectionView>, InstanceNotFound | NoOAuthConnections | CredentialError>
}

export interface McpServersDeps {
  readonly instances: Instances
  readonly runtime: ContainerRuntime
  readonly connector: McpConnector
  readonly logs: ContainerLogs
  readonly events: ContainerEvents
  readonly settings: McpServersSettings
  /**
   * Builds the credentials use case, given how an `env_vars` server's container is replaced when its
   * tokens change. Absent: servers asking for OAuth connections are refused (no credential source).
   */
  readonly credentials?: ((onEnvRenewal: EnvRenewal) => Effect.Effect<ServerCredentials, never, Scope.Scope>) | undefined
}

/**
 * Deploys and supervises MCP servers. Every instance name has a mailbox worked through by one fiber:
 * operator requests (deploy, redeploy, start, stop, remove, adoption) and the server's own events
 * (container events, lost connections, timers, pings) go through it in order, so the server's state
 * machine (`serverStateMachine.ts`) sees one at a time and `serverInterpreter.ts` runs what it asks.
 * Background work lives in the scope this is built in; closing it stops supervising (containers keep
 * running, for the next DTMA to adopt).
 */
export const makeMcpServers = (deps: McpServersDeps): Effect.Effect<McpServers, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { instances, runtime, connector, logs, events, settings } = deps
    const root = yield* Effect.scope
    const fibers = yield* FiberSet.make()
    const runFiber = yield* FiberSet.runtime(fibers)()
    const mailboxes = new Map<string, Mailbox>()
    const listeners = new Map<string, Set<(n: JsonRpcNotification) => void>>()
    const goneListeners = new Set<(gone: McpServerGone) => void>()
    const listingListeners = new Set<(name: string) => void>()
    /** The listing each name last announced, so that a change is told once. */
    const announced = new Map<string, ServerListing>()

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

    const credentials = deps.credentials === undefined ? undefined : yield* deps.credentials((name) => renewEnv(name))
    const flow = makeMcpCredentialFlow({ instances, runtime, credentials })
    const output = makeServerOutput({
      runtime,
      logs,
      secretsOf: (containerId) => {
        const server = [...mailboxes.values()].find((box) => box.server?.container.containerId === containerId)?.server
        return server == null ? Effect.succeed([]) : flow.tokenValues(server.container)
      },
    })
    const interpreter = makeInterpreter({
      instances,
      runtime,
      connector,
      settings,
      output,
      root,
      notify: (name, n) => {
        for (const listener of listeners.get(name) ?? []) listener(n)
      },
      announce: (name, reason) => announce(name, reason),
    })
    const { offer, begin, apply, run, open, drain, sessionOf } = interpreter
    const announce = (name: string, reason: McpServerGone["reason"]) => {
      for (const listener of goneListeners) listener({ name, reason })
    }

    /** Works through the name's messages; ends once the name has no server and nothing waits. */
    const serve = (box: Mailbox) =>
      Effect.gen(function* () {
        for (;;) {
          const message = yield* Queue.take(box.inbox)
          if (message._tag === "Event") yield* apply(box, message.event).pipe(Effect.catchCause(() => Effect.void))
          else {
            const exit = yield* Effect.exit(message.work)
            // Told before the request is answered: a client that deployed and then lists sees the new listing.
            announceListing(box)
            message.done(Exit.isFailure(exit) ? (exit as Exit.Exit<never, unknown>) : Exit.succeed(box.server === null ? null : viewWith(box.server)))
          }
          announceListing(box)
          // Ending is synchronous with the check, so no request can slip in between.
          if (box.server === null && Queue.sizeUnsafe(box.inbox) === 0) {
            Queue.shutdownUnsafe(box.inbox)
            if (mailboxes.get(box.name) === box) mailboxes.delete(box.name)
            return
          }
        }
      })

    /**
     * The name's mailbox, made (and its fiber started) if it has none. The final look and the making
     * are one synchronous step, so two requests for a new name always share one mailbox.
     */
    const mailboxOf = (name: string): Effect.Effect<Mailbox> =>
      Effect.suspend(() => {
        const found = mailboxes.get(name)
        if (found !== undefined) return Effect.succeed(found)
        return Queue.unbounded<Message>().pipe(
          Effect.map((inbox) => {
            const raced = mailboxes.get(name)
            if (raced !== undefined) return raced
            const box: Mailbox = { name, inbox, server: null, life: null }
            mailboxes.set(name, box)
            runFiber(serve(box))
            return box
          }),
        )
      })

    /**
     * Runs `work` in the name's mailbox, after whatever came before it, and answers the server's view
     * then (null: the name has no server). The mailbox carries any error: each operation says which
     * ones its work can raise.
     */
    const request = (name: string, work: (box: Mailbox) => Effect.Effect<void, unknown>): Effect.Effect<McpServerView | null, unknown> =>
      mailboxOf(name).pipe(
        Effect.flatMap((box) =>
          Effect.callback<McpServerView | null, unknown>((resume) => {
            // A mailbox that just ended takes nothing more: the request goes to the next one.
            const offered = Queue.offerUnsafe(box.inbox, { _tag: "Request", work: Effect.suspend(() => work(box)), done: (exit) => resume(exit) })
            if (!offered) resume(request(name, work))
          }),
        ),
      )

    const isolated = makeIsolatedInstances({
      mailboxes,
      request,
      interpreter,
      flow,
      instances,
      idleMs: settings.isolatedIdleMs ?? DEFAULT_ISOLATED_IDLE_MS,
      max: settings.isolatedMax ?? DEFAULT_ISOLATED_MAX,
      announce,
    })
    yield* isolated.startReaper(root)

    /** The view of a server, with its agents' instances when it is `per_agent`. */
    const viewWith = (server: SupervisedServer): McpServerView =>
      isolationOf(server) === "per_agent" ? { ...viewOf(server), instances: isolated.viewsOf(server.name) } : viewOf(server)

    /** The server under `box`, for an operator's request that needs one. */
    const serverIn = (box: Mailbox): Effect.Effect<SupervisedServer, InstanceNotFound> =>
      box.server === null ? Effect.fail(new InstanceNotFound({ name: box.name })) : Effect.succeed(box.server)

    /** An operator's event for the name's server. */
    const command = (name: string, event: ServerEvent) => request(name, (box) => serverIn(box).pipe(Effect.andThen(apply(box, event))))

    const deploy: McpServers["deploy"] = (deployRequest) =>
      deployRequest.mcp == null
        ? Effect.fail(new InvalidInstanceSpec({ field: "transport", problem: "is required for an MCP server" }))
        : (request(deployRequest.name, (box) =>
            Effect.gen(function* () {
              const { name } = deployRequest
              if (box.server !== null) return yield* new InstanceAlreadyExists({ name })
              if (deployRequest.oauth != null) yield* flow.ensureAbsent(name)
              // Credentials are readied for a name only in its mailbox: a losing deploy never wipes the winner's.
              const readied = yield* flow.readied(deployRequest)
              const container = yield* instances.deploy(readied).pipe(Effect.tapError(() => (deployRequest.oauth == null ? Effect.void : flow.release(name))))
              yield* begin(box, firstStep(container, "deploy")).pipe(Effect.tapError(() => flow.release(name)))
              yield* flow.track(container, deployRequest)
            }),
          ) as Effect.Effect<McpServerView, DeployError | McpServerNotReady | CredentialError>)

    /**
     * Zero downtime: the new container starts beside the old one and is made ready; only then does
     * traffic move to it, the old connection drains (bounded) and the old container goes. A
     * replacement that does not become ready is removed and the old one keeps serving.
     */
    const redeploy: McpServers["redeploy"] = (deployRequest) =>
      request(deployRequest.name, (box) =>
        Effect.gen(function* () {
          const server = yield* serverIn(box)
          const fresh = yield* instances.deployReplacement(yield* flow.readied(deployRequest))
          const opened = yield* open(box, fresh).pipe(Effect.tapError(() => runtime.remove(fresh.containerId).pipe(Effect.ignore)))
          const sameServer = sameImage(server.container, opened.container)
          yield* apply(box, { _tag: "Replaced", connection: opened.connection, container: opened.container, snapshot: opened.snapshot, sameServer })
          yield* flow.track(opened.container, deployRequest)
          // The agents' instances ran what was replaced: they go, with their sessions; each agent's next call makes a new one.
          if ((yield* isolated.removeAll(deployRequest.name)) > 0) announce(deployRequest.name, "replaced")
        }),
      ) as Effect.Effect<McpServerView, DeployError | InstanceNotFound | McpServerNotReady | CredentialError>

    // Read when the effect runs, not when it is built: an effect built early must not act on a stale read.
    /** A server or an agent's own instance of one. */
    const findAny = (name: string): Effect.Effect<SupervisedServer, InstanceNotFound> =>
      Effect.suspend(() => {
        const server = mailboxes.get(name)?.server
        return server == null ? Effect.fail(new InstanceNotFound({ name })) : Effect.succeed(server)
      })
    /** A server as callers name it: never an agent's own instance. */
    const find = (name: string): Effect.Effect<SupervisedServer, InstanceNotFound> =>
      findAny(name).pipe(
        Effect.filterOrFail(
          (server) => server.container.isolatedFor == null,
          () => new InstanceNotFound({ name }),
        ),
      )

    // An env_vars server's new tokens reach it only in a new container: the zero-downtime redeploy.
    const renewEnv: EnvRenewal = (name) =>
      find(name).pipe(
        Effect.flatMap((server) => flow.replay(server.container)),
        Effect.flatMap(redeploy),
      )

    const start = (name: string, restart: boolean) =>
      command(name, { _tag: "StartRequested", restart }) as Effect.Effect<McpServerView, StartError | McpServerNotReady>
    // The agents' instances stop with their server; each starts again on its agent's next call.
    const stop = (name: string) =>
      (command(name, { _tag: "StopRequested" }) as Effect.Effect<McpServerView, ManageError>).pipe(
        Effect.tap(() => isolated.stopAll(name)),
        Effect.flatMap((view) =>
          find(name).pipe(
            Effect.map(viewWith),
            Effect.orElseSucceed(() => view),
          ),
        ),
      )
    const startUnlessServing: McpServers["startUnlessServing"] = (name) =>
      Effect.suspend(() => {
        let outcome: Started<McpServerView>["outcome"] = "started"
        const work = (box: Mailbox) =>
          serverIn(box).pipe(
            Effect.flatMap((server) => {
              if (!serving(server)) return apply(box, { _tag: "StartRequested", restart: false })
              outcome = "already_running"
              return Effect.void
            }),
          )
        return request(name, work).pipe(Effect.map((view) => ({ outcome, value: view as McpServerView })))
      }) as Effect.Effect<Started<McpServerView>, StartError | McpServerNotReady>

    const remove: McpServers["remove"] = (name) =>
      request(name, (box) =>
        Effect.gen(function* () {
          // The agents' instances go first: no container of the server is left behind.
          yield* isolated.removeAll(name)
          if (box.server !== null) {
            // Drain: calls in flight finish (bounded) before the container goes.
            const live = sessionOf(box)
            if (live !== undefined) yield* drain(live)
            yield* run(box, { _tag: "CancelTimers" })
            yield* run(box, { _tag: "Forget" })
          }
          yield* instances.remove(name)
          yield* flow.release(name)
        }),
      ).pipe(Effect.asVoid) as Effect.Effect<void, ManageError>

    const adopt: McpServers["adopt"] = () =>
      Effect.gen(function* () {
        const found = (yield* instances.list()).filter((c) => c.kind === "mcp_server" && mailboxes.get(c.name)?.server == null)
        yield* Effect.forEach(
          found,
          (c) =>
            request(c.name, (box) =>
              box.server !== null
                ? Effect.void
                : begin(box, firstStep(c, "adopt")).pipe(
                    // Connected or not, it is supervised now, and its tokens are fetched again.
                    Effect.ensuring(Effect.suspend(() => (box.life === null ? Effect.void : Effect.forkIn(flow.restore(c), box.life.scope)))),
                  ),
            ).pipe(Effect.ignore),
          { concurrency: 4, discard: true },
        )
        // After their servers: an agent's instance is adopted only under a `per_agent` server.
        yield* isolated.adopt
        return found.map((c) => c.name)
      })

    const onEvent = (event: ContainerEvent) => {
      const box = mailboxes.get(event.name)
      if (box?.server == null) return
      if (event.kind === "die" || event.kind === "oom")
        offer(box, { _tag: "ContainerDied", containerId: event.containerId, exitCode: event.exitCode, outOfMemory: event.kind === "oom", at: event.at })
      if (event.kind === "destroy") offer(box, { _tag: "ContainerDestroyed", containerId: event.containerId })
    }
    // The event feed broke: a crash may have gone unseen, so every server asks the runtime.
    const onGap = () => {
      for (const box of mailboxes.values()) if (box.server !== null) offer(box, { _tag: "EventFeedGap" })
    }
    const subscription = yield* events.subscribe({ onEvent, onGap })
    yield* Scope.addFinalizer(root, subscription.unsubscribe)

    return {
      deploy,
      redeploy,
      adopt,
      start: (name) => start(name, false),
      startUnlessServing,
      stop,
      restart: (name) => stop(name).pipe(Effect.andThen(start(name, true))),
      remove,
      isMcpServer: (name) => mailboxes.get(name)?.server?.container.isolatedFor == null && mailboxes.get(name)?.server != null,
      list: () =>
        [...mailboxes.values()]
          .flatMap((box) => (box.server === null || box.server.container.isolatedFor != null ? [] : [viewWith(box.server)]))
          .sort((a, b) => a.instanceName.localeCompare(b.instanceName)),
      get: (name) => find(name).pipe(Effect.map(viewWith)),
      instanceFor: isolated.instanceFor,
      isolationOf: (name) => {
        const server = mailboxes.get(name)?.server
        return server == null || server.container.isolatedFor != null ? null : isolationOf(server)
      },
      session: (name) =>
        findAny(name).pipe(
          Effect.flatMap((server) => {
            const session = sessionOf(mailboxes.get(name)!)
            return session !== undefined && session.isOpen()
              ? Effect.succeed(session)
              : Effect.fail(new McpServerUnavailable({ name, health: healthOf(server.state), detail: server.lastError }))
          }),
        ),
      subscribe: (name, listener) => {
        const set = listeners.get(name) ?? new Set()
        listeners.set(name, set)
        set.add(listener)
        return () => void set.delete(listener)
      },
      subscribeGone: (listener) => {
        goneListeners.add(listener)
        return () => void goneListeners.delete(listener)
      },
      subscribeListings: (listener) => {
        listingListeners.add(listener)
        return () => void listingListeners.delete(listener)
      },
      logs: (name, lines, agentId) =>
        find(name).pipe(
          Effect.flatMap((server) => {
            if (agentId === undefined) return Effect.succeed(server)
            const own = isolated.nameOf(name, agentId)
            return own === null ? Effect.fail(new InstanceNotFound({ name: `${name} (agent ${agentId})` })) : findAny(own)
          }),
          Effect.flatMap((server) =>
            output.maskedLogs(server.container, lines).pipe(Effect.catchTag("ContainerNotFound", () => Effect.fail(new InstanceNotFound({ name })))),
          ),
        ),
      oauth: (name) => find(name).pipe(Effect.flatMap(() => flow.connections(name))),
      refreshCredentials: (name) => find(name).pipe(Effect.flatMap((server) => flow.refresh(server.container))),
    }
  })
