import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberMap from "effect/FiberMap"
import * as FiberSet from "effect/FiberSet"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import { InstanceAlreadyExists, InstanceNotFound, InvalidInstanceSpec, NoOAuthConnections, PortConflict, RuntimeOperationFailed } from "../errors.ts"
import type { ManagedContainer } from "../ManagedInstance.ts"
import { discover, listsChangedBy } from "../mcp/discovery.ts"
import type { JsonRpcNotification } from "../mcp/jsonrpc.ts"
import { McpServerNotReady, McpServerUnavailable } from "../mcp/mcpErrors.ts"
import { viewOf, type McpServerView } from "../mcp/McpServerView.ts"
import { connectionOf, firstStep, healthOf, step, type ServerCommand, type Step, type ServerEvent, type SupervisedServer } from "../mcp/serverStateMachine.ts"
import type { UpstreamSession } from "../mcp/UpstreamSession.ts"
import type { ContainerEvent, ContainerEvents } from "../ports/ContainerEvents.ts"
import type { ContainerLogs, LogLine } from "../ports/ContainerLogs.ts"
import type { ContainerRuntime, RuntimeFailure } from "../ports/ContainerRuntime.ts"
import type { McpConnector } from "../ports/McpConnector.ts"
import type { DeployRequest } from "./deployRequest.ts"
import type { DeployError, Instances, ManageError, StartError } from "./Instances.ts"
import { makeMcpCredentialFlow, type CredentialError } from "./mcpCredentials.ts"
import type { McpServersSettings } from "./mcpServersSettings.ts"
import { openConnection, type ServerConnection } from "./serverConnection.ts"
import { makeServerOutput } from "./serverOutput.ts"
import type { EnvRenewal, OAuthConnectionView, ServerCredentials } from "./ServerCredentials.ts"

export interface McpServers {
  /** Deploys and answers once the server is initialized and its capabilities listed, or rolls back. */
  deploy(request: DeployRequest): Effect.Effect<McpServerView, DeployError | McpServerNotReady | CredentialError>
  /** Takes over every MCP server container found at start-up (after `Instances.reconcile`). */
  adopt(): Effect.Effect<ReadonlyArray<string>, RuntimeFailure>
  /** Replaces a server's container (a new image, say) with zero downtime. */
  redeploy(request: DeployRequest): Effect.Effect<McpServerView, DeployError | InstanceNotFound | McpServerNotReady | CredentialError>
  start(name: string): Effect.Effect<McpServerView, StartError | McpServerNotReady>
  stop(name: string): Effect.Effect<McpServerView, ManageError>
  restart(name: string): Effect.Effect<McpServerView, StartError | McpServerNotReady>
  /** Drains in-flight calls (bounded), removes the container and forgets the server. */
  remove(name: string): Effect.Effect<void, ManageError>
  isMcpServer(name: string): boolean
  list(): ReadonlyArray<McpServerView>
  get(name: string): Effect.Effect<McpServerView, InstanceNotFound>
  /** The live session for proxied calls. */
  session(name: string): Effect.Effect<UpstreamSession, InstanceNotFound | McpServerUnavailable>
  /** Server notifications for `name`, across reconnections, until the returned function is called. */
  subscribe(name: string, listener: (notification: JsonRpcNotification) => void): () => void
  logs(name: string, lines: number): Effect.Effect<ReadonlyArray<LogLine>, InstanceNotFound | RuntimeFailure>
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

/** Work for a server's mailbox: an event to apply, or an operator's request and where its answer goes. */
type Message =
  | { readonly _tag: "Event"; readonly event: ServerEvent }
  | { readonly _tag: "Request"; readonly work: Effect.Effect<ServerEvent | null, unknown>; readonly reply: Deferred.Deferred<McpServerView, unknown> }

/** One supervised server: its state, its mailbox, and the scope its connections and timers live in. */
interface Entry {
  readonly name: string
  /** Null until the deploy that created the entry has a container. */
  server: SupervisedServer | null
  readonly inbox: Queue.Queue<Message>
  readonly scope: Scope.Closeable
  /** Pending timers, pings and rediscoveries: cancelled together. */
  readonly timers: FiberMap.FiberMap<"schedule" | "ping" | "discover">
  readonly sessions: Map<number, UpstreamSession>
  retired: boolean
}

/**
 * Deploys and supervises MCP servers. Each server has a mailbox worked through by one fiber: every
 * event (container events, lost connections, timers, pings) and every operator request goes
 * through it, so the server's state machine (`serverStateMachine.ts`) sees one event at a time and
 * this module only runs the commands it returns. Background work lives in the scope this is built
 * in; closing it stops supervising (containers keep running, for the next DTMA to adopt).
 */
export const makeMcpServers = (deps: McpServersDeps): Effect.Effect<McpServers, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { instances, runtime, connector, logs, events, settings } = deps
    const root = yield* Effect.scope
    const mailboxes = yield* FiberSet.make()
    const entries = new Map<string, Entry>()
    const listeners = new Map<string, Set<(n: JsonRpcNotification) => void>>()
    let connections = 0

    const credentials = deps.credentials === undefined ? undefined : yield* deps.credentials((name) => renewEnv(name))
    const flow = makeMcpCredentialFlow({ instances, runtime, credentials })
    const output = makeServerOutput({
      runtime,
      logs,
      secretsOf: (containerId) => {
        const server = [...entries.values()].find((e) => e.server?.container.containerId === containerId)?.server
        return server === undefined || server === null ? Effect.succeed([]) : flow.tokenValues(server.container)
      },
    })
    const stepSettings = settings

    const offer = (entry: Entry, event: ServerEvent) => void Queue.offerUnsafe(entry.inbox, { _tag: "Event", event })
    const transportOf = (c: ManagedContainer) => c.mcp?.transport ?? "stdio"

    /** Applies `event` and runs what the state machine asks; a failed command's outcome is applied, then raised. */
    const apply = (entry: Entry, event: ServerEvent): Effect.Effect<void, unknown> =>
      Effect.gen(function* () {
        const server = entry.server
        if (server === null || entry.retired) return
        const input = { now: yield* Clock.currentTimeMillis, random: yield* Random.next, settings: stepSettings }
        const next = step(server, event, input)
        if (Result.isFailure(next)) {
          // A bug: kept in the server's history for whoever looks, and raised (an operator's request answers 500).
          const record = { at: new Date(input.now).toISOString(), status: healthOf(server.state), detail: `internal error: ${next.failure.message}` }
          entry.server = { ...server, history: [...server.history, record] }
          return yield* Effect.die(next.failure)
        }
        entry.server = next.success.server
        for (const command of next.success.commands) yield* run(entry, command)
      })

    /** A server's first state, and what it asks for. */
    const begin = (entry: Entry, first: Step) =>
      Effect.suspend(() => {
        entry.server = first.server
        return Effect.forEach(first.commands, (command) => run(entry, command), { discard: true })
      })

    /** Runs one command; one that has an outcome applies it as the next event. */
    const run = (entry: Entry, command: ServerCommand): Effect.Effect<void, unknown> =>
      Effect.suspend(() => {
        const server = entry.server!
        const { name, container } = server
        const live = connectionOf(server.state)
        switch (command._tag) {
          case "StartContainer": {
            const start = server.state._tag === "Starting" && server.state.why === "start"
              ? instances.start(name).pipe(Effect.map((o) => o.container))
              : runtime.start(container.containerId).pipe(
                Effect.catchTags({
                  HostPortUnavailable: (e) => Effect.fail(new PortConflict({ hostPort: e.hostPort, heldBy: "host" })),
                  ContainerNotFound: (e) => Effect.fail(new RuntimeOperationFailed({ operation: "start", detail: `container ${e.containerId} disappeared` })),
                }),
              )
            return outcome(entry, start, (c) => ({ _tag: "ContainerStarted", container: c }), (e) => ({ _tag: "StartFailed", reason: e.message }))
          }
          case "Connect":
            return outcome(entry, connect(entry, container), (c) => c, (e) => ({ _tag: "ConnectFailed", reason: e.detail }))
          case "StopContainer":
            return outcome(entry, instances.stop(name), (c) => ({ _tag: "ContainerStopped", container: c }), (e) => ({ _tag: "StopFailed", reason: e.message }))
          case "InspectContainer":
            return runtime.get(container.containerId).pipe(
              Effect.matchEffect({
                onFailure: (e) => apply(entry, { _tag: "InspectFailed", reason: e.message }),
                onSuccess: (c) => apply(entry, { _tag: "ContainerSeen", container: c }),
              }),
            )
          case "CloseConnection":
            return Effect.forEach([...entry.sessions].filter(([id]) => id !== live), ([id, session]) => {
              entry.sessions.delete(id)
              return session.close()
            }, { discard: true })
          case "DrainConnection": {
            const session = entry.sessions.get(command.connection)
            entry.sessions.delete(command.connection)
            return session === undefined ? Effect.void : drain(session)
          }
          case "RemoveContainer":
            return runtime.remove(command.containerId).pipe(Effect.ignore)
          case "Ping": {
            const session = entry.sessions.get(command.connection)
            if (session === undefined) return Effect.void
            const ping = Effect.gen(function* () {
              yield* Effect.sleep(command.afterMs)
              const started = yield* Clock.currentTimeMillis
              const ok = yield* session.call("ping", {}, settings.pingTimeoutMs).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
              const latencyMs = (yield* Clock.currentTimeMillis) - started
              offer(entry, ok ? { _tag: "PingSucceeded", connection: command.connection, latencyMs } : { _tag: "PingFailed", connection: command.connection, timeoutMs: settings.pingTimeoutMs })
            })
            return FiberMap.run(entry.timers, "ping", ping).pipe(Effect.asVoid)
          }
          case "Discover": {
            const session = entry.sessions.get(command.connection)
            if (session === undefined) return Effect.void
            const lists = command.lists === "all" ? undefined : command.lists
            const rediscover = Effect.gen(function* () {
              const snapshot = yield* discover(session, { timeoutMs: settings.requestTimeoutMs, now: new Date(yield* Clock.currentTimeMillis).toISOString(), previous: server.snapshot ?? undefined, only: lists })
              offer(entry, { _tag: "Discovered", connection: command.connection, snapshot })
            }).pipe(Effect.ignore)
            return FiberMap.run(entry.timers, "discover", rediscover).pipe(Effect.asVoid)
          }
          case "Schedule":
            return FiberMap.run(entry.timers, "schedule", Effect.sleep(command.afterMs).pipe(Effect.andThen(Effect.sync(() => offer(entry, { _tag: command.event }))))).pipe(Effect.asVoid)
          case "CancelTimers":
            return FiberMap.clear(entry.timers)
          case "Forget":
            return Effect.sync(() => {
              entry.retired = true
              if (entries.get(name) === entry) entries.delete(name)
            })
        }
      })

    /** Runs `effect`; its success or failure becomes the next event, and a failure is raised after. */
    const outcome = <A, E>(entry: Entry, effect: Effect.Effect<A, E>, ok: (a: A) => ServerEvent, failed: (e: E) => ServerEvent) =>
      Effect.exit(effect).pipe(
        Effect.flatMap((exit) => {
          if (Exit.isSuccess(exit)) return apply(entry, ok(exit.value))
          const error = Cause.findErrorOption(exit.cause)
          if (error._tag === "None") return Effect.failCause(exit.cause)
          return apply(entry, failed(error.value)).pipe(Effect.andThen(Effect.fail(error.value)))
        }),
      )

    /** Opens a connection in the server's scope and numbers it; the stderr tail explains a failure. */
    const connect = (entry: Entry, container: ManagedContainer): Effect.Effect<ServerEvent, McpServerNotReady> =>
      Effect.gen(function* () {
        const opened = yield* Effect.exit(openConnection({ runtime, connector, settings }, container.name, container.containerId).pipe(Scope.provide(entry.scope)))
        if (Exit.isFailure(opened)) {
          const error = Cause.findErrorOption(opened.cause)
          const detail = error._tag === "Some" ? error.value.detail : Cause.pretty(opened.cause)
          return yield* new McpServerNotReady({ name: container.name, detail, stderrTail: yield* output.stderrTail(container.containerId, transportOf(container)) })
        }
        const connection = yield* track(entry, opened.value)
        return { _tag: "Connected", connection, container: opened.value.container, snapshot: opened.value.snapshot } as const
      })

    /** Keeps `connection` as one of the server's: its notifications reach subscribers, its close is reported. */
    const track = (entry: Entry, { container, session }: ServerConnection) =>
      Effect.gen(function* () {
        const connection = ++connections
        entry.sessions.set(connection, session)
        session.subscribe((n) => {
          for (const listener of listeners.get(container.name) ?? []) listener(n)
          const lists = listsChangedBy(n.method)
          if (lists.length > 0) offer(entry, { _tag: "ListChanged", connection, lists })
        })
        yield* Effect.forkIn(session.closed.pipe(Effect.flatMap((reason) => Effect.sync(() => offer(entry, { _tag: "ConnectionLost", connection, reason })))), entry.scope)
        return connection
      })

    /** Lets calls in flight finish, for at most the drain timeout, then closes. */
    const drain = (session: UpstreamSession) =>
      Effect.gen(function* () {
        while (session.load() > 0) yield* Effect.sleep(20)
      }).pipe(Effect.timeoutOption(settings.drainTimeoutMs), Effect.andThen(session.close()))

    /** The mailbox: one message at a time, until the server is forgotten. */
    const serve = (entry: Entry) =>
      Effect.gen(function* () {
        while (!entry.retired) {
          const message = yield* Queue.take(entry.inbox)
          if (message._tag === "Event") {
            yield* apply(entry, message.event).pipe(Effect.catchCause(() => Effect.void))
            continue
          }
          const exit = yield* Effect.exit(message.work.pipe(Effect.flatMap((event) => (event === null ? Effect.void : apply(entry, event)))))
          const server = entry.server
          if (Exit.isFailure(exit)) Deferred.doneUnsafe(message.reply, Effect.failCause(exit.cause))
          else Deferred.doneUnsafe(message.reply, server === null ? Effect.fail(new InstanceNotFound({ name: entry.name })) : Effect.succeed(viewOf(server)))
        }
      }).pipe(Effect.ensuring(Effect.suspend(() => {
        // Requests that arrived after the end are answered as for a server that does not exist; later ones cannot arrive.
        for (let left = Queue.takeUnsafe(entry.inbox); left !== undefined && Exit.isSuccess(left); left = Queue.takeUnsafe(entry.inbox)) {
          if (left.value._tag === "Request") Deferred.doneUnsafe(left.value.reply, Effect.fail(new InstanceNotFound({ name: entry.name })))
        }
        Queue.shutdownUnsafe(entry.inbox)
        return Scope.close(entry.scope, Exit.void)
      })))

    const register = (name: string, server: SupervisedServer | null): Effect.Effect<Entry> =>
      Effect.gen(function* () {
        const scope = yield* Scope.fork(root)
        const entry: Entry = {
          name,
          server,
          inbox: yield* Queue.unbounded<Message>(),
          scope,
          timers: yield* FiberMap.make<"schedule" | "ping" | "discover">().pipe(Scope.provide(scope)),
          sessions: new Map(),
          retired: false,
        }
        entries.set(name, entry)
        yield* FiberSet.run(mailboxes, serve(entry))
        return entry
      })

    /** Sends an operator's request through the server's mailbox and waits for its answer. */
    // The mailbox carries any error: each operation says which ones its requests can raise.
    const request = <E>(entry: Entry, work: Effect.Effect<ServerEvent | null, E>): Effect.Effect<McpServerView, unknown> =>
      Effect.gen(function* () {
        const reply = yield* Deferred.make<McpServerView, unknown>()
        // A mailbox that has ended (the server was removed meanwhile) takes nothing more.
        if (!(yield* Queue.offer(entry.inbox, { _tag: "Request", work, reply }))) return yield* new InstanceNotFound({ name: entry.name })
        return yield* Deferred.await(reply)
      })

    /**
     * The entry of an operator's request: one whose deploy is under way counts (the request waits
     * its turn in the mailbox, and finds the server deployed or gone).
     */
    const mailboxOf = (name: string): Effect.Effect<Entry, InstanceNotFound> => {
      const entry = entries.get(name)
      return entry === undefined ? Effect.fail(new InstanceNotFound({ name })) : Effect.succeed(entry)
    }
    /** `event`, once it is the entry's turn, if the server exists by then. */
    const operatorEvent = (entry: Entry, event: ServerEvent) =>
      Effect.suspend(() => (entry.server === null ? Effect.fail(new InstanceNotFound({ name: entry.name })) : Effect.succeed(event)))

    const find = (name: string): Effect.Effect<Entry, InstanceNotFound> => {
      const entry = entries.get(name)
      return entry === undefined || entry.server === null ? Effect.fail(new InstanceNotFound({ name })) : Effect.succeed(entry)
    }

    const deploy: McpServers["deploy"] = (deployRequest) =>
      Effect.gen(function* () {
        const { name } = deployRequest
        if (deployRequest.mcp == null) return yield* new InvalidInstanceSpec({ field: "mcpTransportType", problem: "is required for an MCP server" })
        if (entries.has(name)) return yield* new InstanceAlreadyExists({ name })
        // The entry holds the name from now on: a second deploy is refused, a remove waits its turn.
        const entry = yield* register(name, null)
        return yield* request(entry, Effect.gen(function* () {
          if (deployRequest.oauth != null) yield* flow.ensureAbsent(name)
          const readied = yield* flow.readied(deployRequest)
          const container = yield* instances.deploy(readied).pipe(Effect.tapError(() => (deployRequest.oauth == null ? Effect.void : flow.release(name))))
          yield* begin(entry, firstStep(container, "deploy")).pipe(Effect.tapError(() => flow.release(name)))
          yield* flow.track(container, deployRequest)
          return null
        }).pipe(Effect.onError(() => Effect.sync(() => {
          entry.retired = true
          if (entries.get(name) === entry) entries.delete(name)
        })))) as Effect.Effect<McpServerView, DeployError | McpServerNotReady | CredentialError>
      })

    /**
     * Zero downtime: the new container starts beside the old one and is made ready; only then does
     * traffic move to it, the old connection drains (bounded) and the old container goes. A
     * replacement that does not become ready is removed and the old one keeps serving.
     */
    const redeploy: McpServers["redeploy"] = (deployRequest) =>
      mailboxOf(deployRequest.name).pipe(Effect.flatMap((entry) => request(entry, Effect.gen(function* () {
        if (entry.server === null) return yield* new InstanceNotFound({ name: entry.name })
        const fresh = yield* instances.deployReplacement(yield* flow.readied(deployRequest))
        const opened = yield* Effect.exit(openConnection({ runtime, connector, settings }, fresh.name, fresh.containerId).pipe(Scope.provide(entry.scope)))
        if (Exit.isFailure(opened)) {
          const tail = yield* output.stderrTail(fresh.containerId, transportOf(fresh))
          yield* runtime.remove(fresh.containerId).pipe(Effect.ignore)
          const error = Cause.findErrorOption(opened.cause)
          return yield* new McpServerNotReady({ name: fresh.name, detail: error._tag === "Some" ? error.value.detail : "start failed", stderrTail: tail })
        }
        const connection = yield* track(entry, opened.value)
        yield* apply(entry, { _tag: "Replaced", connection, container: opened.value.container, snapshot: opened.value.snapshot })
        yield* flow.track(opened.value.container, deployRequest)
        return null
      })))) as Effect.Effect<McpServerView, DeployError | InstanceNotFound | McpServerNotReady | CredentialError>

    // An env_vars server's new tokens reach it only in a new container: the zero-downtime redeploy.
    const renewEnv: EnvRenewal = (name) =>
      find(name).pipe(Effect.flatMap((entry) => flow.replay(entry.server!.container)), Effect.flatMap((replayed) => redeploy(replayed)))

    const start = (name: string, restart: boolean) =>
      mailboxOf(name).pipe(Effect.flatMap((entry) => request(entry, operatorEvent(entry, { _tag: "StartRequested", restart })))) as Effect.Effect<
        McpServerView,
        StartError | McpServerNotReady
      >

    const stop: McpServers["stop"] = (name) =>
      mailboxOf(name).pipe(Effect.flatMap((entry) => request(entry, operatorEvent(entry, { _tag: "StopRequested" })))) as Effect.Effect<McpServerView, ManageError>

    const remove: McpServers["remove"] = (name) =>
      Effect.gen(function* () {
        let entry = entries.get(name)
        // A deploy of the name is under way: its outcome decides what there is to remove.
        if (entry !== undefined && entry.server === null) {
          yield* request(entry, Effect.succeed(null)).pipe(Effect.ignore)
          entry = entries.get(name)
        }
        if (entry === undefined || entry.server === null) {
          yield* instances.remove(name)
          return yield* flow.release(name)
        }
        yield* request(entry, Effect.gen(function* () {
          const server = entry.server!
          // Drain: calls in flight finish (bounded) before the container goes.
          const live = entry.sessions.get(connectionOf(server.state) ?? -1)
          if (live !== undefined) yield* drain(live)
          yield* run(entry, { _tag: "CancelTimers" })
          yield* run(entry, { _tag: "Forget" })
          yield* instances.remove(name)
          yield* flow.release(name)
          return null
        })).pipe(Effect.asVoid) as Effect.Effect<void, ManageError>
      })

    const adopt: McpServers["adopt"] = () =>
      Effect.gen(function* () {
        const found = (yield* instances.list()).filter((c) => c.kind === "mcp_server" && !entries.has(c.name))
        yield* Effect.forEach(found, (c) => Effect.gen(function* () {
          const entry = yield* register(c.name, null)
          yield* Effect.forkIn(flow.restore(c), entry.scope)
          yield* request(entry, begin(entry, firstStep(c, "adopt")).pipe(Effect.as(null))).pipe(Effect.ignore)
        }), { concurrency: 4, discard: true })
        return found.map((c) => c.name)
      })

    const onEvent = (event: ContainerEvent) => {
      const entry = entries.get(event.name)
      if (entry === undefined) return
      if (event.kind === "die" || event.kind === "oom") offer(entry, { _tag: "ContainerDied", containerId: event.containerId, exitCode: event.exitCode, outOfMemory: event.kind === "oom", at: event.at })
      if (event.kind === "destroy") offer(entry, { _tag: "ContainerDestroyed", containerId: event.containerId })
    }
    // The event feed broke: a crash may have gone unseen, so every server asks the runtime.
    const onGap = () => {
      for (const entry of entries.values()) offer(entry, { _tag: "EventFeedGap" })
    }
    const subscription = yield* events.subscribe({ onEvent, onGap })
    yield* Scope.addFinalizer(root, subscription.unsubscribe)

    const sessionOf = (entry: Entry): UpstreamSession | undefined => {
      const live = entry.server === null ? null : connectionOf(entry.server.state)
      return live === null ? undefined : entry.sessions.get(live)
    }

    return {
      deploy,
      redeploy,
      adopt,
      start: (name) => start(name, false),
      stop,
      restart: (name) => stop(name).pipe(Effect.andThen(start(name, true))),
      remove,
      isMcpServer: (name) => entries.get(name)?.server != null,
      list: () =>
        [...entries.values()].flatMap((e) => (e.server === null ? [] : [viewOf(e.server)])).sort((a, b) => a.instanceName.localeCompare(b.instanceName)),
      get: (name) => find(name).pipe(Effect.map((e) => viewOf(e.server!))),
      session: (name) =>
        find(name).pipe(Effect.flatMap((entry) => {
          const session = sessionOf(entry)
          const server = entry.server!
          return session !== undefined && session.isOpen()
            ? Effect.succeed(session)
            : Effect.fail(new McpServerUnavailable({ name, health: healthOf(server.state), detail: server.lastError }))
        })),
      subscribe: (name, listener) => {
        const set = listeners.get(name) ?? new Set()
        listeners.set(name, set)
        set.add(listener)
        return () => void set.delete(listener)
      },
      logs: (name, lines) =>
        find(name).pipe(Effect.flatMap((e) => output.maskedLogs(e.server!.container.containerId, lines, transportOf(e.server!.container)).pipe(
          Effect.catchTag("ContainerNotFound", () => Effect.fail(new InstanceNotFound({ name }))),
        ))),
      oauth: (name) => find(name).pipe(Effect.flatMap(() => flow.connections(name))),
      refreshCredentials: (name) => find(name).pipe(Effect.flatMap((e) => flow.refresh(e.server!.container))),
    }
  })
