import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { InstanceNotFound, InvalidInstanceSpec, NoOAuthConnections } from "../errors.ts"
import { makeKeyedLock } from "../keyedLock.ts"
import type { ManagedContainer } from "../ManagedInstance.ts"
import type { JsonRpcNotification } from "../mcp/jsonrpc.ts"
import { McpServerNotReady, McpServerUnavailable } from "../mcp/mcpErrors.ts"
import type { RestartPolicy } from "../mcp/restartPolicy.ts"
import { supervise, viewOf, type McpServerView, type SupervisedServer } from "../mcp/SupervisedServer.ts"
import type { UpstreamSession } from "../mcp/UpstreamSession.ts"
import type { ContainerEvents } from "../ports/ContainerEvents.ts"
import type { ContainerLogs, LogLine } from "../ports/ContainerLogs.ts"
import type { ContainerRuntime, RuntimeFailure } from "../ports/ContainerRuntime.ts"
import type { McpConnector } from "../ports/McpConnector.ts"
import type { DeployRequest } from "./deployRequest.ts"
import type { DeployError, Instances, ManageError, StartError } from "./Instances.ts"
import { makeMcpCredentialFlow, type CredentialError } from "./mcpCredentials.ts"
import { makeSupervisor } from "./mcpSupervisor.ts"
import type { EnvRenewal, OAuthConnectionView, ServerCredentials } from "./ServerCredentials.ts"

export interface McpServersSettings {
  readonly clientInfo: { readonly name: string; readonly version: string }
  readonly protocolVersion: string
  readonly supportedProtocolVersions: ReadonlyArray<string>
  /** Deploy and restart: from container start to initialized and listed. */
  readonly startTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly pingTimeoutMs: number
  /** Health ping pace while a server is new or shaky; it grows to `pingMaxMs` once stable. */
  readonly pingBaseMs: number
  readonly pingMaxMs: number
  readonly discoveryIntervalMs: number
  readonly restartPolicy: RestartPolicy
  /** Requests one server may have in flight; beyond, up to `maxQueued` wait, the rest are refused. */
  readonly maxInFlight: number
  readonly maxQueued: number
  /** How long removal waits for in-flight calls to finish. */
  readonly drainTimeoutMs: number
}

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
  /**
   * Calls `listener` each time a server's client sessions must end, until the returned function is
   * called: the server was removed (by `remove` once drained, by a failed deploy's rollback, or with
   * its container removed behind the DTMA's back), or `redeploy` replaced it by a different image
   * (`sameImage`), as soon as traffic has moved to the new container (the old one then drains).
   * Never for a stop, start, restart, crash, a redeploy of the same image, or `shutdown`.
   */
  subscribeGone(listener: (gone: McpServerGone) => void): () => void
  logs(name: string, lines: number): Effect.Effect<ReadonlyArray<LogLine>, InstanceNotFound | RuntimeFailure>
  /** The server's OAuth connections: states and expiry, never a token. */
  oauth(name: string): Effect.Effect<ReadonlyArray<OAuthConnectionView>, InstanceNotFound>
  /** Fetches the server's tokens now and delivers them before answering. */
  refreshCredentials(name: string): Effect.Effect<ReadonlyArray<OAuthConnectionView>, InstanceNotFound | NoOAuthConnections | CredentialError>
  /** Stops supervising (containers keep running, for the next DTMA to adopt). */
  shutdown(): Effect.Effect<void>
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
  readonly credentials?: ((onEnvRenewal: EnvRenewal) => ServerCredentials) | undefined
}

export const makeMcpServers = (deps: McpServersDeps): McpServers => {
  const { instances, runtime, connector, logs, events, settings } = deps
  // An env_vars server's new tokens reach it only in a new container: the zero-downtime redeploy.
  const renewEnv: EnvRenewal = (name) => find(name).pipe(Effect.flatMap((s) => flow.replay(s.container)), Effect.flatMap((request) => redeploy(request)))
  const flow = makeMcpCredentialFlow({ instances, runtime, credentials: deps.credentials?.(renewEnv) })
  const servers = new Map<string, SupervisedServer>()
  const loops = new Map<string, Fiber.Fiber<unknown, unknown>>()
  const listeners = new Map<string, Set<(n: JsonRpcNotification) => void>>()
  const withName = makeKeyedLock()
  const goneListeners = new Set<(gone: McpServerGone) => void>()
  const announce = (gone: McpServerGone) => {
    for (const listener of goneListeners) listener(gone)
  }
  /** Forgets the server without telling anyone (at shutdown the server lives on, for the next DTMA). */
  const drop = (name: string) => {
    const s = servers.get(name)
    servers.delete(name)
    const loop = loops.get(name)
    loops.delete(name)
    if (loop !== undefined) Effect.runFork(Fiber.interrupt(loop))
    if (s?.session) Effect.runFork(s.session.close())
  }
  const forget = (name: string) => {
    drop(name)
    announce({ name, reason: "removed" })
  }
  const secretsOf = (containerId: string) => {
    const s = [...servers.values()].find((server) => server.container.containerId === containerId)
    return s === undefined ? Effect.succeed([]) : flow.tokenValues(s.container)
  }
  const supervisor = makeSupervisor({ runtime, connector, logs, settings, servers, listeners, withName, forget, secretsOf })
  const { health, maskedLogs, notReady, openConnection, attach, connect, recover, onEvent, onGap, superviseLoop } = supervisor

  const register = (container: ManagedContainer, status: "starting" | "stopped"): SupervisedServer => {
    const s = supervise(container, status)
    servers.set(container.name, s)
    loops.set(container.name, Effect.runFork(superviseLoop(s)))
    return s
  }

  const find = (name: string): Effect.Effect<SupervisedServer, InstanceNotFound> => {
    const s = servers.get(name)
    return s === undefined ? Effect.fail(new InstanceNotFound({ name })) : Effect.succeed(s)
  }

  const readyOrRollBack = (s: SupervisedServer) =>
    connect(s).pipe(
      Effect.catch((e) =>
        Effect.gen(function* () {
          const error = yield* notReady(s.name, s.container, e._tag === "McpServerNotReady" ? e.detail : e.message)
          forget(s.name)
          yield* instances.remove(s.name).pipe(Effect.ignore)
          yield* flow.release(s.name)
          return yield* Effect.fail(error)
        }),
      ),
    )

  // Credentials are readied for a name only while holding it, so a losing concurrent deploy never wipes the winner's.
  const deploy: McpServers["deploy"] = (request) =>
    request.mcp == null
      ? Effect.fail(new InvalidInstanceSpec({ field: "mcpTransportType", problem: "is required for an MCP server" }))
      : withName(request.name, Effect.gen(function* () {
          if (request.oauth != null) yield* flow.ensureAbsent(request.name)
          const readied = yield* flow.readied(request)
          const container = yield* instances.deploy(readied).pipe(Effect.tapError(() => (request.oauth == null ? Effect.void : flow.release(request.name))))
          yield* readyOrRollBack(register(container, "starting"))
          yield* flow.track(container, request)
          return viewOf(servers.get(container.name)!)
        }))

  const drain = (session: UpstreamSession) =>
    Effect.gen(function* () {
      while (session.load() > 0) yield* Effect.sleep(20)
    }).pipe(Effect.timeoutOption(settings.drainTimeoutMs), Effect.andThen(session.close()))

  /**
   * Zero downtime: the new container starts beside the old one and is made ready; only then does
   * traffic move to it, the old session drains (bounded) and the old container goes. A replacement
   * that does not become ready is removed and the old one keeps serving. The name's lock is held
   * throughout (calls keep flowing): a stop or start meanwhile would pick either container by name.
   */
  const redeploy: McpServers["redeploy"] = (request) =>
    withName(request.name, Effect.gen(function* () {
      const s = yield* find(request.name)
      const fresh = yield* instances.deployReplacement(yield* flow.readied(request))
      const connection = yield* openConnection(s.name, fresh.containerId).pipe(
        Effect.catch((e) =>
          notReady(s.name, fresh, e._tag === "McpServerNotReady" ? e.detail : e.message).pipe(
            Effect.tap(() => runtime.remove(fresh.containerId).pipe(Effect.ignore)),
            Effect.flatMap(Effect.fail),
          ),
        ),
      )
      return yield* Effect.gen(function* () {
        const old = { container: s.container, session: s.session }
        yield* health(s, { _tag: "StartRequested" })
        s.stopRequested = false
        s.circuitOpen = false
        s.crashes = []
        yield* attach(s, connection)
        if (!sameImage(old.container, s.container)) announce({ name: s.name, reason: "replaced" })
        if (old.session !== null) yield* drain(old.session)
        if (old.container.containerId !== fresh.containerId) yield* runtime.remove(old.container.containerId).pipe(Effect.ignore)
        yield* flow.track(s.container, request)
        return viewOf(s)
      })
    }))

  // Connect failures on start are not rolled back: the container stays, stopped, for inspection.
  const start: McpServers["start"] = (name) =>
    withName(name, Effect.gen(function* () {
      const s = yield* find(name)
      return yield* Effect.gen(function* () {
        s.stopRequested = false
        s.circuitOpen = false
        s.crashes = []
        yield* health(s, { _tag: "StartRequested" })
        s.container = (yield* instances.start(name)).container
        yield* connect(s).pipe(
          Effect.catch((e) => notReady(name, s.container, e.message).pipe(Effect.flatMap(Effect.fail))),
        )
        return viewOf(s)
      })
    }))

  const stop: McpServers["stop"] = (name) =>
    withName(name, Effect.gen(function* () {
      const s = yield* find(name)
      return yield* Effect.gen(function* () {
        s.stopRequested = true
        s.generation++
        yield* health(s, { _tag: "StopRequested" })
        const session = s.session
        s.session = null
        if (session !== null) yield* session.close()
        s.container = yield* instances.stop(name)
        yield* health(s, { _tag: "Stopped" })
        return viewOf(s)
      })
    }))

  const remove: McpServers["remove"] = (name) =>
    withName(name, Effect.gen(function* () {
      const s = servers.get(name)
      if (s !== undefined) {
        s.stopRequested = true
        // Drain: calls in flight finish (bounded) before the container goes.
        if (s.session !== null) yield* drain(s.session)
        forget(name)
      }
      yield* instances.remove(name)
      yield* flow.release(name)
    }))

  const adopt: McpServers["adopt"] = () =>
    Effect.gen(function* () {
      const found = (yield* instances.list()).filter((c) => c.kind === "mcp_server" && !servers.has(c.name))
      yield* Effect.forEach(found, (c) => {
        const running = c.state === "running"
        const s = register(c, running ? "starting" : "stopped")
        if (!running) s.stopRequested = true
        Effect.runFork(flow.restore(c, () => servers.get(c.name) === s))
        return running ? withName(c.name, recover(s)).pipe(Effect.ignore) : Effect.void
      }, { concurrency: 4, discard: true })
      return found.map((c) => c.name)
    })

  const eventSubscription = Effect.runFork(
    events.subscribe({
      onEvent,
      // The event feed broke: a crash may have gone unseen, so ask the runtime.
      onGap,
    }),
  )

  return {
    deploy,
    redeploy,
    adopt,
    start,
    stop,
    restart: (name) => stop(name).pipe(Effect.andThen(start(name)), Effect.tap(() => Effect.sync(() => {
      const s = servers.get(name)
      if (s !== undefined) s.restartCount++
    })), Effect.map(() => viewOf(servers.get(name)!))),
    remove,
    isMcpServer: (name) => servers.has(name),
    list: () => [...servers.values()].map(viewOf).sort((a, b) => a.instanceName.localeCompare(b.instanceName)),
    get: (name) => find(name).pipe(Effect.map(viewOf)),
    session: (name) =>
      find(name).pipe(
        Effect.flatMap((s) => (s.session !== null && s.session.isOpen() ? Effect.succeed(s.session) : Effect.fail(new McpServerUnavailable({ name, health: s.health, detail: s.lastError })))),
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
    logs: (name, lines) =>
      find(name).pipe(Effect.flatMap((s) => maskedLogs(s.container, lines).pipe(
        Effect.catchTag("ContainerNotFound", () => Effect.fail(new InstanceNotFound({ name }))),
      ))),
    oauth: (name) => find(name).pipe(Effect.flatMap(() => flow.connections(name))),
    refreshCredentials: (name) => find(name).pipe(Effect.flatMap((s) => flow.refresh(s.container))),
    shutdown: () =>
      Effect.gen(function* () {
        const sub = yield* Fiber.join(eventSubscription)
        yield* sub.unsubscribe
        // Deleting the entry being visited is safe for a Map iterator.
        for (const name of servers.keys()) drop(name)
        yield* flow.shutdown()
      }),
  }
}
