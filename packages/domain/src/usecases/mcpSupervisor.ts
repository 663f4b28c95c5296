import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import type { KeyedLock } from "../keyedLock.ts"
import type { ManagedContainer } from "../ManagedInstance.ts"
import { discover, listsChangedBy } from "../mcp/discovery.ts"
import type { JsonRpcNotification } from "../mcp/jsonrpc.ts"
import { McpServerNotReady, type McpConnectFailed } from "../mcp/mcpErrors.ts"
import { decideRestart, nextPingDelay, nextReconnectDelay } from "../mcp/restartPolicy.ts"
import { applyHealth, targetUrlOf, type SupervisedServer } from "../mcp/SupervisedServer.ts"
import { openUpstreamSession, type UpstreamSession } from "../mcp/UpstreamSession.ts"
import type { ContainerEvent } from "../ports/ContainerEvents.ts"
import type { ContainerLogs } from "../ports/ContainerLogs.ts"
import type { ContainerRuntime } from "../ports/ContainerRuntime.ts"
import type { McpConnector } from "../ports/McpConnector.ts"
import { maskerOf, secretValuesOf } from "../redaction.ts"
import type { McpServersSettings } from "./McpServers.ts"

export const nowIso = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms).toISOString()))

/** What the supervisor shares with the McpServers use case that owns it. */
export interface SupervisorContext {
  readonly runtime: ContainerRuntime
  readonly connector: McpConnector
  readonly logs: ContainerLogs
  readonly settings: McpServersSettings
  readonly servers: ReadonlyMap<string, SupervisedServer>
  readonly listeners: ReadonlyMap<string, ReadonlySet<(n: JsonRpcNotification) => void>>
  readonly withName: KeyedLock
  /** Drops a server whose container was removed behind the DTMA's back. */
  readonly forget: (name: string) => void
  /** Secrets a container holds besides its environment (its OAuth tokens), to mask in what it prints. */
  readonly secretsOf?: (containerId: string) => Effect.Effect<ReadonlyArray<string>>
}

/**
 * Keeps MCP servers connected and healthy: (re)connects and lists them, reacts to container events
 * and lost connections, restarts crashes under the restart policy, and paces health pings.
 */
export const makeSupervisor = (ctx: SupervisorContext) => {
  const { runtime, connector, logs, settings, servers, listeners, withName, forget } = ctx

  const health = (s: SupervisedServer, event: Parameters<typeof applyHealth>[1], detail: string | null = null) =>
    nowIso.pipe(Effect.map((at) => applyHealth(s, event, at, detail)))

  /** Masks every value the container was given as a possible secret, and its OAuth tokens (those it can still read). */
  const maskerFor = (containerId: string) =>
    Effect.all([
      runtime.environmentOf(containerId).pipe(Effect.map(secretValuesOf), Effect.orElseSucceed(() => [] as ReadonlyArray<string>)),
      ctx.secretsOf?.(containerId) ?? Effect.succeed([]),
    ]).pipe(Effect.map(([env, tokens]) => maskerOf([...env, ...tokens])))

  const streamsOf = (container: ManagedContainer) => ((container.mcp?.transport ?? "stdio") === "stdio" ? "stderr" : "all")

  /** What the container wrote, masked. */
  const maskedLogs = (container: ManagedContainer, lines: number) =>
    Effect.all([logs.tail(container.containerId, { lines, streams: streamsOf(container) }), maskerFor(container.containerId)]).pipe(
      Effect.map(([found, mask]) => found.map((l) => ({ stream: l.stream, text: mask(l.text) }))),
    )

  /**
   * The container did not become ready: why, with the last lines it wrote. Both are masked: a
   * connection's error can carry what the server answered (an HTTP error body). Read it before the
   * container goes.
   */
  const notReady = (name: string, container: ManagedContainer, detail: string) =>
    Effect.all([
      logs.tail(container.containerId, { lines: 20, streams: streamsOf(container) }).pipe(Effect.orElseSucceed(() => [])),
      maskerFor(container.containerId),
    ]).pipe(Effect.map(([tail, mask]) => new McpServerNotReady({ name, detail: mask(detail), stderrTail: tail.map((l) => mask(l.text)) })))

  /** Connects to `containerId`, initializes and lists, touching no state; the caller attaches the result. */
  const openConnection = (name: string, containerId: string) =>
    Effect.gen(function* () {
      const container = yield* runtime.get(containerId).pipe(Effect.mapError((e) => new McpServerNotReady({ name, detail: e.message, stderrTail: [] })))
      const transport = container.mcp?.transport ?? "stdio"
      const url = targetUrlOf(container)
      if (transport !== "stdio" && url === null) {
        return yield* new McpServerNotReady({ name, detail: `container port ${container.mcp?.port ?? 8080} is not published`, stderrTail: [] })
      }
      const channel = yield* connector.connect({ transport, containerId, url }, { timeoutMs: settings.startTimeoutMs })
      const session = yield* openUpstreamSession(channel, {
        name,
        clientInfo: settings.clientInfo,
        protocolVersion: settings.protocolVersion,
        supportedProtocolVersions: settings.supportedProtocolVersions,
        initializeTimeoutMs: settings.startTimeoutMs,
        maxInFlight: settings.maxInFlight,
        maxQueued: settings.maxQueued,
      })
      const snapshot = yield* discover(session, { timeoutMs: settings.requestTimeoutMs, now: yield* nowIso }).pipe(
        Effect.mapError((e) => new McpServerNotReady({ name, detail: `listing capabilities failed: ${e.message}`, stderrTail: [] })),
        Effect.onError(() => session.close()),
      )
      return { container, session, snapshot }
    }).pipe(Effect.timeoutOrElse({ duration: settings.startTimeoutMs * 2, orElse: () => Effect.fail(new McpServerNotReady({ name, detail: "start timed out", stderrTail: [] })) }))

  type Connection = Effect.Success<ReturnType<typeof openConnection>>

  /** Makes `connection` the server's live one; the previous session is closed (or drained by the caller). */
  const attach = (s: SupervisedServer, { container, session, snapshot }: Connection) =>
    Effect.gen(function* () {
      const generation = ++s.generation
      s.container = container
      s.session = session
      s.snapshot = snapshot
      s.consecutiveFailed = 0
      s.reconnectFailures = 0
      session.subscribe((n) => onNotification(s, session, n))
      session.onClose((reason) => onDisconnect(s, generation, reason))
      yield* health(s, { _tag: "Ready" })
    })

  /** (Re)connects to the server's current container; on success it is healthy with a fresh session. */
  const connect = (s: SupervisedServer): Effect.Effect<void, McpConnectFailed | McpServerNotReady> =>
    Effect.gen(function* () {
      const generation = ++s.generation
      const old = s.session
      s.session = null
      if (old !== null) yield* old.close()
      const connection = yield* openConnection(s.name, s.container.containerId)
      if (generation !== s.generation) return yield* connection.session.close()
      yield* attach(s, connection)
    })

  const onNotification = (s: SupervisedServer, session: UpstreamSession, n: JsonRpcNotification) => {
    for (const listener of listeners.get(s.name) ?? []) listener(n)
    const only = listsChangedBy(n.method)
    if (only.length === 0) return
    Effect.runFork(
      Effect.gen(function* () {
        const snapshot = yield* discover(session, { timeoutMs: settings.requestTimeoutMs, now: yield* nowIso, previous: s.snapshot ?? undefined, only })
        if (s.session === session) s.snapshot = snapshot
      }).pipe(Effect.ignore),
    )
  }

  const onDisconnect = (s: SupervisedServer, generation: number, reason: string) => {
    if (generation !== s.generation || s.stopRequested) return
    Effect.runFork(
      withName(s.name, Effect.gen(function* () {
        if (generation !== s.generation || s.stopRequested) return
        const why = (yield* maskerFor(s.container.containerId))(reason)
        yield* health(s, { _tag: "Disconnected" }, why)
        s.lastError = `connection lost: ${why}`
        const container = yield* runtime.get(s.container.containerId)
        // A running container lost only its connection (an attach stream broke): connect again.
        if (container.state === "running") yield* recover(s)
      })).pipe(Effect.ignore),
    )
  }

  /** A (re)connection failed: the server is unhealthy with the reason, and the supervise loop tries again. */
  // `why` can carry what the server answered (an HTTP error body): it is masked, as its logs are.
  const markDown = (s: SupervisedServer, reason: string) =>
    Effect.gen(function* () {
      const why = (yield* maskerFor(s.container.containerId))(reason)
      // A failed restart reported after the crash that followed it opened the circuit (or a stop came):
      // that verdict stands.
      if (s.circuitOpen || s.stopRequested) return
      s.reconnectFailures++
      if (s.health === "unhealthy" && s.lastError === why) return
      s.lastError = why
      yield* health(s, { _tag: "Disconnected" }, why)
    })

  /** Ends the live session (its calls in flight fail at once); late news of it is ignored. */
  const dropSession = (s: SupervisedServer) =>
    Effect.suspend(() => {
      s.generation++
      const old = s.session
      s.session = null
      return old === null ? Effect.void : old.close()
    })

  const recover = (s: SupervisedServer) =>
    health(s, { _tag: "Restarting" }).pipe(
      Effect.andThen(connect(s)),
      Effect.tapError((e) => markDown(s, e.message)),
    )

  /** Down but meant to run, with no restart on its way: its last (re)connection failed. */
  const isDown = (s: SupervisedServer) => s.session === null && s.health === "unhealthy" && !s.stopRequested && !s.restartPending && !s.circuitOpen

  /**
   * Brings back a server that stopped answering or could not be reconnected, by what its container
   * is doing: a running one is connected to again; a paused one is left alone (its session dropped,
   * so calls fail at once) until it runs; one that exited unseen is handled as a crash. Failures
   * leave it unhealthy with the reason, for the supervise loop to try again. Runs under the name's lock.
   */
  const reconnect = (s: SupervisedServer) =>
    runtime.get(s.container.containerId).pipe(
      Effect.matchEffect({
        onFailure: (e) => dropSession(s).pipe(Effect.andThen(markDown(s, `cannot reach the container: ${e.message}`))),
        onSuccess: (c) => {
          if (c.state === "running") return recover(s).pipe(Effect.ignore)
          if (c.state === "paused") return dropSession(s).pipe(Effect.andThen(markDown(s, "the container is paused")))
          return dropSession(s).pipe(Effect.andThen(Effect.sync(() => onEvent({ kind: "die", containerId: c.containerId, name: c.name, exitCode: c.exitCode, at: Date.now() }))))
        },
      }),
    )

  const onEvent = (event: ContainerEvent) => {
    const s = servers.get(event.name)
    if (s === undefined || s.container.containerId !== event.containerId) return
    if (event.kind === "die" || event.kind === "oom") Effect.runFork(onCrash(s, event).pipe(Effect.ignore))
    if (event.kind === "destroy" && !s.stopRequested) forget(s.name)
  }

  const onCrash = (s: SupervisedServer, event: ContainerEvent) =>
    withName(s.name, Effect.gen(function* () {
      // Already handled: a die event and a re-read of the runtime can report the same exit, in either
      // order; an exit from before the container's current start is old news.
      const startedAt = s.container.startedAt === null ? Number.NaN : Date.parse(s.container.startedAt)
      if (s.restartPending || event.at < startedAt) return
      // A redeploy that held the name meanwhile replaced the container that died.
      if (s.container.containerId !== event.containerId) return
      s.generation++
      s.session = null
      if (s.stopRequested || s.circuitOpen) return
      const why = event.kind === "oom" ? "ran out of memory" : `exited with code ${event.exitCode ?? "unknown"}`
      s.lastError = `container ${why}`
      s.crashes.push(event.at)
      yield* health(s, { _tag: "ContainerDied" }, s.lastError)
      const decision = decideRestart(s.crashes, event.at, settings.restartPolicy)
      if (decision._tag === "GiveUp") {
        s.circuitOpen = true
        s.lastError = `${s.lastError}; ${decision.reason}`
        return yield* health(s, { _tag: "GaveUp" }, decision.reason)
      }
      const crashGeneration = s.generation
      s.restartPending = true
      Effect.runFork(
        Effect.sleep(decision.delayMs).pipe(
          Effect.andThen(withName(s.name, Effect.gen(function* () {
            s.restartPending = false
            if (s.stopRequested || crashGeneration !== s.generation) return
            s.restartCount++
            yield* health(s, { _tag: "Restarting" }, `restart ${s.restartCount} after ${decision.delayMs} ms`)
            s.container = yield* runtime.start(s.container.containerId)
            yield* connect(s)
          }))),
          Effect.tapError((e) => markDown(s, (e as { message: string }).message)),
          Effect.ignore,
        ),
      )
    }))

  /** Pings on a jittered, stability-dependent pace; reconnects a server that stops answering. */
  const superviseLoop = (s: SupervisedServer): Effect.Effect<never> =>
    Effect.gen(function* () {
      let lastDiscovery = yield* Clock.currentTimeMillis
      while (true) {
        const pace = { baseMs: settings.pingBaseMs, maxMs: settings.pingMaxMs, random: yield* Random.next }
        yield* Effect.sleep(isDown(s) ? nextReconnectDelay({ failures: s.reconnectFailures, ...pace }) : nextPingDelay({ consecutiveOk: s.consecutiveOk, ...pace }))
        if (isDown(s)) {
          yield* withName(s.name, Effect.suspend(() => (isDown(s) ? reconnect(s) : Effect.void))).pipe(Effect.ignore)
          continue
        }
        const session = s.session
        if (session === null || s.stopRequested) continue
        const started = yield* Clock.currentTimeMillis
        const ok = yield* session.call("ping", {}, settings.pingTimeoutMs).pipe(Effect.as(true), Effect.orElseSucceed(() => false))
        const ended = yield* Clock.currentTimeMillis
        if (s.session !== session) continue
        s.lastHealthCheck = new Date(ended).toISOString()
        if (ok) {
          s.pingLatencyMs = ended - started
          s.consecutiveOk++
          s.consecutiveFailed = 0
          yield* health(s, { _tag: "PingSucceeded" })
        } else {
          s.consecutiveOk = 0
          s.consecutiveFailed++
          yield* health(s, { _tag: "PingFailed", consecutive: s.consecutiveFailed }, `no answer to ping within ${settings.pingTimeoutMs} ms`)
          if (s.health === "unhealthy") yield* withName(s.name, Effect.suspend(() => (s.session === session ? reconnect(s) : Effect.void))).pipe(Effect.ignore)
        }
        if (ended - lastDiscovery >= settings.discoveryIntervalMs && s.session !== null) {
          lastDiscovery = ended
          const current = s.session
          const snapshot = yield* discover(current, { timeoutMs: settings.requestTimeoutMs, now: s.lastHealthCheck }).pipe(Effect.option)
          if (snapshot._tag === "Some" && s.session === current) s.snapshot = snapshot.value
        }
      }
    })


  /** The event feed broke: a crash may have gone unseen, so ask the runtime. */
  const onGap = () => {
    for (const s of servers.values()) {
      Effect.runFork(runtime.get(s.container.containerId).pipe(
        Effect.flatMap((c) => (c.state !== "running" && !s.stopRequested && !s.restartPending && !s.circuitOpen
          ? Effect.sync(() => onEvent({ kind: "die", containerId: c.containerId, name: c.name, exitCode: c.exitCode, at: Date.now() }))
          : Effect.void)),
        Effect.ignore,
      ))
    }
  }

  return { health, maskedLogs, notReady, openConnection, attach, connect, recover, onEvent, onGap, superviseLoop }
}
