import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberMap from "effect/FiberMap"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import { PortConflict, RuntimeOperationFailed } from "../errors.ts"
import type { ManagedContainer } from "../ManagedInstance.ts"
import { discover, listsChangedBy } from "../mcp/discovery.ts"
import type { JsonRpcNotification } from "../mcp/jsonrpc.ts"
import type { McpServerNotReady } from "../mcp/mcpErrors.ts"
import type { McpServerView } from "../mcp/McpServerView.ts"
import { healthMethodOf } from "../mcp/modernUpstream.ts"
import { connectionOf, healthOf, step, type ServerCommand, type ServerEvent, type Step, type SupervisedServer } from "../mcp/serverStateMachine.ts"
import type { UpstreamSession } from "../mcp/UpstreamSession.ts"
import type { ContainerRuntime } from "../ports/ContainerRuntime.ts"
import type { McpConnector } from "../ports/McpConnector.ts"
import type { Instances } from "./Instances.ts"
import type { McpServersSettings } from "./mcpServersSettings.ts"
import { openConnection, type ServerConnection } from "./serverConnection.ts"
import type { ServerOutput } from "./serverOutput.ts"

/** Work for a name's mailbox: an event to apply, or an operator's request and where its answer goes. */
export type Message =
  | { readonly _tag: "Event"; readonly event: ServerEvent }
  | { readonly _tag: "Request"; readonly work: Effect.Effect<void, unknown>; readonly done: (exit: Exit.Exit<McpServerView | null, unknown>) => void }

/** What one server owns while it lives: its connections, and the timers, pings and rediscoveries pending. */
export interface Life {
  readonly scope: Scope.Closeable
  readonly timers: FiberMap.FiberMap<"schedule" | "ping" | "discover">
  readonly sessions: Map<number, UpstreamSession>
}

/**
 * One instance name's mailbox: its messages are worked through one at a time, by one fiber, so the
 * server under the name (if any) sees one event or request at a time, in order.
 */
export interface Mailbox {
  readonly name: string
  readonly inbox: Queue.Queue<Message>
  server: SupervisedServer | null
  life: Life | null
  /**
   * Its server is an agent's own connection to another server's container (a `per_agent` network
   * server): the container is that server's, so it is never started, stopped or removed from here.
   */
  borrowsContainer?: boolean | undefined
}

export interface InterpreterContext {
  readonly instances: Instances
  readonly runtime: ContainerRuntime
  readonly connector: McpConnector
  readonly settings: McpServersSettings
  readonly output: ServerOutput
  /** Where servers' lives are scoped: closing it ends them all. */
  readonly root: Scope.Scope
  /** A server notification for the clients of `name`. */
  readonly notify: (name: string, notification: JsonRpcNotification) => void
  /** The clients of `name` must end their sessions: the server was removed, or replaced by a different one. */
  readonly announce: (name: string, reason: "removed" | "replaced") => void
}

/**
 * Runs what the server state machine (`serverStateMachine.ts`) asks for against the ports, and feeds
 * each outcome back to it as the next event. Called only from a name's mailbox fiber.
 */
export const makeInterpreter = (ctx: InterpreterContext) => {
  const { instances, runtime, settings, output } = ctx
  let connections = 0

  /** Queues `event` for the name's mailbox; from callbacks and timers, which cannot wait. */
  const offer = (box: Mailbox, event: ServerEvent) => void Queue.offerUnsafe(box.inbox, { _tag: "Event", event })

  const lifeOf = (box: Mailbox): Life => box.life!

  /** A new server takes the name: its first state, a life of its own, and what the state asks for. */
  const begin = (box: Mailbox, first: Step) =>
    Effect.gen(function* () {
      const scope = yield* Scope.fork(ctx.root)
      box.life = { scope, timers: yield* FiberMap.make<"schedule" | "ping" | "discover">().pipe(Scope.provide(scope)), sessions: new Map() }
      box.server = first.server
      for (const command of first.commands) yield* run(box, command)
    })

  /** The server is gone: its life ends (connections closed, timers cancelled) and its clients are told. */
  const end = (box: Mailbox) =>
    Effect.suspend(() => {
      const life = box.life
      box.server = null
      box.life = null
      return life === null ? Effect.void : Scope.close(life.scope, Exit.void)
    })

  /** Applies `event` and runs what the state machine asks; a failed command's outcome is applied, then raised. */
  const apply = (box: Mailbox, event: ServerEvent): Effect.Effect<void, unknown> =>
    Effect.gen(function* () {
      const server = box.server
      if (server === null) return
      const input = { now: yield* Clock.currentTimeMillis, random: yield* Random.next, settings }
      const next = step(server, event, input)
      if (Result.isFailure(next)) {
        // A bug: kept in the server's history for whoever looks, and raised (an operator's request answers 500).
        const record = { at: new Date(input.now).toISOString(), status: healthOf(server.state), detail: `internal error: ${next.failure.message}` }
        box.server = { ...server, history: [...server.history, record] }
        return yield* Effect.die(next.failure)
      }
      box.server = next.success.server
      for (const command of next.success.commands) yield* run(box, command)
    })

  /** Runs `effect`; its success or failure becomes the next event, and a failure is raised after. */
  const outcome = <A, E>(box: Mailbox, effect: Effect.Effect<A, E>, ok: (a: A) => ServerEvent, failed: (e: E) => ServerEvent) =>
    Effect.exit(effect).pipe(
      Effect.flatMap((exit) => {
        if (Exit.isSuccess(exit)) return apply(box, ok(exit.value))
        const error = Cause.findErrorOption(exit.cause)
        if (error._tag === "None") return Effect.failCause(exit.cause)
        return apply(box, failed(error.value)).pipe(Effect.andThen(Effect.fail(error.value)))
      }),
    )

  /** A borrowed container is started by its own server: this one only looks whether it runs. */
  const borrowedRunning = (server: SupervisedServer) =>
    runtime.get(server.container.containerId).pipe(
      Effect.mapError((e) => new RuntimeOperationFailed({ operation: "start", detail: e.message })),
      Effect.flatMap((c) =>
        c.state === "running"
          ? Effect.succeed({ ...c, name: server.name, isolatedFor: server.container.isolatedFor })
          : Effect.fail(new RuntimeOperationFailed({ operation: "start", detail: "the server's container is not running" })),
      ),
    )

  const startContainer = (server: SupervisedServer, borrowed: boolean) =>
    borrowed
      ? borrowedRunning(server)
      : server.state._tag === "Starting" && server.state.why === "start"
        ? instances.start(server.name).pipe(Effect.map((o) => o.container))
        : runtime.start(server.container.containerId).pipe(
            Effect.catchTags({
              HostPortUnavailable: (e) => Effect.fail(new PortConflict({ hostPort: e.hostPort, heldBy: "host" })),
              ContainerNotFound: (e) => Effect.fail(new RuntimeOperationFailed({ operation: "start", detail: `container ${e.containerId} disappeared` })),
            }),
          )

  /** Runs one command; one that has an outcome applies it as the next event. */
  const run = (box: Mailbox, command: ServerCommand): Effect.Effect<void, unknown> =>
    Effect.suspend(() => {
      const server = box.server!
      const { name, container } = server
      const life = lifeOf(box)
      switch (command._tag) {
        case "StartContainer":
          return outcome(
            box,
            startContainer(server, box.borrowsContainer === true),
            (c) => ({ _tag: "ContainerStarted", container: c }),
            (e) => ({ _tag: "StartFailed", reason: e.message }),
          )
        case "Connect":
          return outcome(
            box,
            connect(box, container),
            (c) => c,
            (e) => ({ _tag: "ConnectFailed", reason: e.detail }),
          )
        case "StopContainer":
          if (box.borrowsContainer === true) return apply(box, { _tag: "ContainerStopped", container })
          return outcome(
            box,
            instances.stop(name),
            (c) => ({ _tag: "ContainerStopped", container: c }),
            (e) => ({ _tag: "StopFailed", reason: e.message }),
          )
        case "InspectContainer":
          return runtime.get(container.containerId).pipe(
            Effect.matchEffect({
              onFailure: (e) => apply(box, { _tag: "InspectFailed", reason: e.message }),
              onSuccess: (c) =>
                apply(box, { _tag: "ContainerSeen", container: box.borrowsContainer === true ? { ...c, name, isolatedFor: container.isolatedFor } : c }),
            }),
          )
        case "CloseConnection": {
          const live = connectionOf(server.state)
          return Effect.forEach(
            [...life.sessions].filter(([id]) => id !== live),
            ([id, session]) => {
              life.sessions.delete(id)
              return session.close()
            },
            { discard: true },
          )
        }
        case "DrainConnection": {
          const session = life.sessions.get(command.connection)
          life.sessions.delete(command.connection)
          return session === undefined ? Effect.void : drain(session)
        }
        case "RemoveContainer":
          return box.borrowsContainer === true ? Effect.void : runtime.remove(command.containerId).pipe(Effect.ignore)
        case "Ping": {
          const session = life.sessions.get(command.connection)
          if (session === undefined) return Effect.void
          const ping = Effect.gen(function* () {
            yield* Effect.sleep(command.afterMs)
            const started = yield* Clock.currentTimeMillis
            const ok = yield* session.call(healthMethodOf(session.hello), {}, settings.pingTimeoutMs).pipe(
              Effect.as(true),
              Effect.orElseSucceed(() => false),
            )
            const latencyMs = (yield* Clock.currentTimeMillis) - started
            offer(
              box,
              ok
                ? { _tag: "PingSucceeded", connection: command.connection, latencyMs }
                : { _tag: "PingFailed", connection: command.connection, timeoutMs: settings.pingTimeoutMs },
            )
          })
          return FiberMap.run(life.timers, "ping", ping).pipe(Effect.asVoid)
        }
        case "Discover": {
          const session = life.sessions.get(command.connection)
          if (session === undefined) return Effect.void
          const lists = command.lists === "all" ? undefined : command.lists
          const rediscover = Effect.gen(function* () {
            const now = new Date(yield* Clock.currentTimeMillis).toISOString()
            const snapshot = yield* discover(session, { timeoutMs: settings.requestTimeoutMs, now, previous: server.snapshot ?? undefined, only: lists })
            offer(box, { _tag: "Discovered", connection: command.connection, snapshot })
          }).pipe(Effect.ignore)
          return FiberMap.run(life.timers, "discover", rediscover).pipe(Effect.asVoid)
        }
        case "Schedule":
          return FiberMap.run(
            life.timers,
            "schedule",
            Effect.sleep(command.afterMs).pipe(Effect.andThen(Effect.sync(() => offer(box, { _tag: command.event })))),
          ).pipe(Effect.asVoid)
        case "CancelTimers":
          return FiberMap.clear(life.timers)
        case "Forget":
          return end(box).pipe(Effect.andThen(Effect.sync(() => ctx.announce(name, "removed"))))
        case "EndClientSessions":
          return Effect.sync(() => ctx.announce(name, "replaced"))
      }
    })

  /** Opens a connection to `container` in the server's life; a failure says why, with what the container printed. */
  const open = (box: Mailbox, container: ManagedContainer): Effect.Effect<ServerConnection & { readonly connection: number }, McpServerNotReady> =>
    Effect.gen(function* () {
      const opened = yield* Effect.exit(openConnection({ connector: ctx.connector, settings }, container).pipe(Scope.provide(lifeOf(box).scope)))
      if (Exit.isFailure(opened)) {
        // Read before the container may go; masked, as a connection's error can carry what the server answered.
        const error = Cause.findErrorOption(opened.cause)
        return yield* output
          .notReady(container.name, container, error._tag === "Some" ? error.value.detail : "the connection failed")
          .pipe(Effect.flatMap(Effect.fail))
      }
      return { ...opened.value, connection: yield* track(box, opened.value) }
    })

  const connect = (box: Mailbox, container: ManagedContainer): Effect.Effect<ServerEvent, McpServerNotReady> =>
    open(box, container).pipe(Effect.map(({ connection, container: c, snapshot }) => ({ _tag: "Connected", connection, container: c, snapshot }) as const))

  /** Numbers a connection and keeps it with the server: its notifications reach clients, its close is reported. */
  const track = (box: Mailbox, { container, session }: ServerConnection) =>
    Effect.gen(function* () {
      const connection = ++connections
      const life = lifeOf(box)
      life.sessions.set(connection, session)
      session.subscribe((n) => {
        ctx.notify(container.name, n)
        const lists = listsChangedBy(n.method)
        if (lists.length > 0) offer(box, { _tag: "ListChanged", connection, lists })
      })
      const lost = session.closed.pipe(
        Effect.flatMap((reason) => output.masked(container.containerId, reason)),
        Effect.flatMap((reason) => Effect.sync(() => offer(box, { _tag: "ConnectionLost", connection, reason }))),
      )
      yield* Effect.forkIn(lost, life.scope)
      return connection
    })

  /** Lets calls in flight finish, for at most the drain timeout, then closes. */
  const drain = (session: UpstreamSession) =>
    Effect.gen(function* () {
      while (session.load() > 0) yield* Effect.sleep(20)
    }).pipe(Effect.timeoutOption(settings.drainTimeoutMs), Effect.andThen(session.close()))

  /** The live session of the name's server, if it has one. */
  const sessionOf = (box: Mailbox): UpstreamSession | undefined => {
    const live = box.server === null ? null : connectionOf(box.server.state)
    return live === null ? undefined : box.life?.sessions.get(live)
  }

  return { offer, begin, end, apply, run, open, drain, sessionOf }
}

export type Interpreter = ReturnType<typeof makeInterpreter>
