import * as Result from "effect/Result"
import { IllegalTransition } from "../lifecycle.ts"
import type { ManagedContainer } from "../ManagedInstance.ts"
import type { CapabilitySnapshot } from "./discovery.ts"
import { decideRestart, nextPingDelay, nextReconnectDelay, type RestartPolicy } from "./restartPolicy.ts"

/**
 * The life of one supervised MCP server as a pure state machine: `step(server, event)` gives the
 * next server and the commands to run. The `McpServers` use case runs the commands against the
 * ports and feeds their outcomes back as events; nothing here does I/O or reads the clock.
 *
 * Connections are numbered by the interpreter; the events of a connection that is no longer the
 * live one (a late ping answer, a close of a session already replaced) are stale and ignored, as
 * are timers that fire after the state that set them was left. An event that cannot happen in a
 * state at all is an `IllegalTransition`.
 */
export type ServerState =
  /** (Re)connecting to the container: initialize and list. `failures`: reconnections that failed in a row before this one. */
  | { readonly _tag: "Starting"; readonly why: StartReason; readonly failures: number }
  | { readonly _tag: "Ready"; readonly connection: number; readonly consecutiveOk: number }
  /** Answering pings late or not at all, fewer than `UNHEALTHY_AFTER_FAILED_PINGS` in a row. */
  | { readonly _tag: "Degraded"; readonly connection: number; readonly failedPings: number }
  /** Meant to run but without a connection; tried again after a backoff. */
  | { readonly _tag: "Down"; readonly failures: number }
  /** The container exited; it is started again after `delayMs`. */
  | { readonly _tag: "RestartScheduled"; readonly delayMs: number }
  /** Crash-looping: not restarted until an operator starts it. */
  | { readonly _tag: "CircuitOpen" }
  | { readonly _tag: "Stopping" }
  | { readonly _tag: "Stopped" }

/** Why a server is (re)connecting; it decides what a failure leads to. */
export type StartReason = "deploy" | "start" | "restart" | "reconnect" | "adopt"

/** The health an MCP server is reported with. */
export type HealthStatus = "starting" | "healthy" | "degraded" | "unhealthy" | "stopping" | "stopped"

export interface HealthRecord {
  readonly at: string
  readonly status: HealthStatus
  readonly detail: string | null
}

/** Everything the DTMA knows about one supervised MCP server. */
export interface SupervisedServer {
  readonly name: string
  readonly state: ServerState
  readonly container: ManagedContainer
  readonly snapshot: CapabilitySnapshot | null
  /** Unix ms of recent crashes, for the restart policy. */
  readonly crashes: ReadonlyArray<number>
  readonly restartCount: number
  readonly lastError: string | null
  readonly history: ReadonlyArray<HealthRecord>
  readonly lastHealthCheck: string | null
  readonly pingLatencyMs: number | null
  /** Unix ms of the last full listing, for the periodic rediscovery. */
  readonly discoveredAt: number
}

/** Failed pings in a row after which a degraded server counts as unhealthy. */
export const UNHEALTHY_AFTER_FAILED_PINGS = 3
const HISTORY = 20

export type ServerEvent =
  /** `restart`: an operator's restart, counted among the server's restarts. */
  | { readonly _tag: "StartRequested"; readonly restart?: boolean | undefined }
  | { readonly _tag: "ContainerStarted"; readonly container: ManagedContainer }
  | { readonly _tag: "StartFailed"; readonly reason: string }
  | { readonly _tag: "Connected"; readonly connection: number; readonly container: ManagedContainer; readonly snapshot: CapabilitySnapshot }
  | { readonly _tag: "ConnectFailed"; readonly reason: string }
  | { readonly _tag: "PingSucceeded"; readonly connection: number; readonly latencyMs: number }
  | { readonly _tag: "PingFailed"; readonly connection: number; readonly timeoutMs: number }
  | { readonly _tag: "ConnectionLost"; readonly connection: number; readonly reason: string }
  | { readonly _tag: "ContainerSeen"; readonly container: ManagedContainer }
  | { readonly _tag: "InspectFailed"; readonly reason: string }
  | { readonly _tag: "ContainerDied"; readonly containerId: string; readonly exitCode: number | null; readonly outOfMemory: boolean; readonly at: number }
  | { readonly _tag: "ContainerDestroyed"; readonly containerId: string }
  | { readonly _tag: "EventFeedGap" }
  | { readonly _tag: "RestartDue" }
  | { readonly _tag: "ReconnectDue" }
  | { readonly _tag: "StopRequested" }
  | { readonly _tag: "ContainerStopped"; readonly container: ManagedContainer }
  | { readonly _tag: "StopFailed"; readonly reason: string }
  /** A redeploy's new container is ready; `sameServer`: it runs the same image under the same isolation (clients may stay). */
  | {
      readonly _tag: "Replaced"
      readonly connection: number
      readonly container: ManagedContainer
      readonly snapshot: CapabilitySnapshot
      readonly sameServer: boolean
    }
  | { readonly _tag: "ListChanged"; readonly connection: number; readonly lists: ReadonlyArray<"tools" | "resources" | "resourceTemplates" | "prompts"> }
  | { readonly _tag: "Discovered"; readonly connection: number; readonly snapshot: CapabilitySnapshot }

export type ServerCommand =
  | { readonly _tag: "StartContainer" }
  | { readonly _tag: "StopContainer" }
  | { readonly _tag: "InspectContainer" }
  | { readonly _tag: "Connect" }
  /** Ends the live connection at once: its calls in flight fail. */
  | { readonly _tag: "CloseConnection" }
  /** Lets the calls in flight on `connection` finish (bounded), then closes it. */
  | { readonly _tag: "DrainConnection"; readonly connection: number }
  | { readonly _tag: "RemoveContainer"; readonly containerId: string }
  /** Pings `connection` after `afterMs` and reports `PingSucceeded` or `PingFailed`. */
  | { readonly _tag: "Ping"; readonly connection: number; readonly afterMs: number }
  /** Lists `lists` again on `connection` and reports `Discovered`. */
  | { readonly _tag: "Discover"; readonly connection: number; readonly lists: ReadonlyArray<"tools" | "resources" | "resourceTemplates" | "prompts"> | "all" }
  /** Reports `event` after `afterMs`, unless cancelled first. */
  | { readonly _tag: "Schedule"; readonly event: "RestartDue" | "ReconnectDue"; readonly afterMs: number }
  /** Cancels every pending `Schedule`, `Ping` and `Discover`. */
  | { readonly _tag: "CancelTimers" }
  /** The container is gone: the server is no longer supervised, and its clients' sessions end. */
  | { readonly _tag: "Forget" }
  /** A different server now answers under the name: its clients' sessions end (those of the old one drain). */
  | { readonly _tag: "EndClientSessions" }

export interface StepSettings {
  readonly restartPolicy: RestartPolicy
  /** Health ping pace while a server is new or shaky; it grows to `pingMaxMs` once stable. */
  readonly pingBaseMs: number
  readonly pingMaxMs: number
  readonly pingTimeoutMs: number
  readonly discoveryIntervalMs: number
}

/** What `step` is given besides the server and the event: the time and a random number in [0, 1). */
export interface StepInput {
  readonly now: number
  readonly random: number
  readonly settings: StepSettings
}

export interface Step {
  readonly server: SupervisedServer
  readonly commands: ReadonlyArray<ServerCommand>
}

export const healthOf = (state: ServerState): HealthStatus => {
  switch (state._tag) {
    case "Starting":
      return "starting"
    case "Ready":
      return "healthy"
    case "Degraded":
      return "degraded"
    case "Down":
    case "RestartScheduled":
    case "CircuitOpen":
      return "unhealthy"
    case "Stopping":
      return "stopping"
    case "Stopped":
      return "stopped"
  }
}

/** A server first seen: just deployed (`deploy`), or found at start-up (`adopt`, running or not). */
export const firstStep = (container: ManagedContainer, why: "deploy" | "adopt"): Step => {
  const running = why === "deploy" || isRunning(container)
  return {
    server: supervised(container, running ? { _tag: "Starting", why, failures: 0 } : { _tag: "Stopped" }),
    commands: running ? [{ _tag: "Connect" }] : [],
  }
}

const supervised = (container: ManagedContainer, state: ServerState): SupervisedServer => ({
  name: container.name,
  state,
  container,
  snapshot: null,
  crashes: [],
  restartCount: 0,
  lastError: null,
  history: [],
  lastHealthCheck: null,
  pingLatencyMs: null,
  discoveredAt: 0,
})

/** The live connection of a server, if it has one. */
export const connectionOf = (state: ServerState): number | null => (state._tag === "Ready" || state._tag === "Degraded" ? state.connection : null)

const iso = (ms: number) => new Date(ms).toISOString()

const isRunning = (c: ManagedContainer) => c.state === "running" || c.state === "restarting"

/** Moves to `state`, recording the health change (or the detail) in the history. */
const enter = (server: SupervisedServer, state: ServerState, input: StepInput, detail: string | null = null): SupervisedServer => {
  const status = healthOf(state)
  const changed = status !== healthOf(server.state) || detail !== null
  return {
    ...server,
    state,
    history: changed ? [...server.history, { at: iso(input.now), status, detail }].slice(-HISTORY) : server.history,
  }
}

const stay = (server: SupervisedServer): Result.Result<Step, IllegalTransition> => Result.succeed({ server, commands: [] })
const to = (server: SupervisedServer, ...commands: ReadonlyArray<ServerCommand>): Result.Result<Step, IllegalTransition> => Result.succeed({ server, commands })
const illegal = (server: SupervisedServer, event: ServerEvent): Result.Result<Step, IllegalTransition> =>
  Result.fail(new IllegalTransition({ from: server.state._tag, event: event._tag }))

const pace = (input: StepInput) => ({ baseMs: input.settings.pingBaseMs, maxMs: input.settings.pingMaxMs, random: input.random })

const pingAfter = (connection: number, consecutiveOk: number, input: StepInput): ServerCommand => ({
  _tag: "Ping",
  connection,
  afterMs: nextPingDelay({ consecutiveOk, ...pace(input) }),
})

/** Down again: tried after a backoff that grows with the failures in a row. */
const down = (server: SupervisedServer, failures: number, reason: string, input: StepInput): Result.Result<Step, IllegalTransition> =>
  to(
    enter({ ...server, lastError: reason }, { _tag: "Down", failures }, input, server.lastError === reason && server.state._tag === "Down" ? null : reason),
    { _tag: "CloseConnection" },
    { _tag: "Schedule", event: "ReconnectDue", afterMs: nextReconnectDelay({ failures, ...pace(input) }) },
  )

/** The container exited while meant to run: restarted after a backoff, or the circuit opens. */
const crashed = (
  server: SupervisedServer,
  exit: { readonly exitCode: number | null; readonly outOfMemory: boolean; readonly at: number },
  input: StepInput,
) => {
  const why = `container ${exit.outOfMemory ? "ran out of memory" : `exited with code ${exit.exitCode ?? "unknown"}`}`
  const crashes = [...server.crashes, exit.at]
  const decision = decideRestart(crashes, exit.at, input.settings.restartPolicy)
  const dead = { ...server, crashes: crashes.slice(-input.settings.restartPolicy.maxCrashes * 2), lastError: why }
  if (decision._tag === "GiveUp") {
    return to(
      enter({ ...dead, lastError: `${why}; ${decision.reason}` }, { _tag: "CircuitOpen" }, input, decision.reason),
      { _tag: "CancelTimers" },
      { _tag: "CloseConnection" },
    )
  }
  return to(
    enter(dead, { _tag: "RestartScheduled", delayMs: decision.delayMs }, input, why),
    { _tag: "CancelTimers" },
    { _tag: "CloseConnection" },
    { _tag: "Schedule", event: "RestartDue", afterMs: decision.delayMs },
  )
}

/** The next server and what to do, or why the event cannot happen now. */
export const step = (server: SupervisedServer, event: ServerEvent, input: StepInput): Result.Result<Step, IllegalTransition> => {
  const state = server.state
  const live = connectionOf(state)
  switch (event._tag) {
    case "StartRequested": {
      // An operator's start closes the circuit and forgets the crashes.
      const fresh = { ...server, crashes: [], restartCount: server.restartCount + (event.restart === true ? 1 : 0) }
      return to(
        enter(fresh, { _tag: "Starting", why: "start", failures: 0 }, input),
        { _tag: "CancelTimers" },
        { _tag: "CloseConnection" },
        { _tag: "StartContainer" },
      )
    }
    case "ContainerStarted":
      return state._tag === "Starting" ? to({ ...server, container: event.container }, { _tag: "Connect" }) : illegal(server, event)
    case "StartFailed":
      if (state._tag !== "Starting") return illegal(server, event)
      // A crashed server's restart that failed is tried again; an operator's start is left stopped.
      if (state.why === "restart") return down(server, 1, `restart failed: ${event.reason}`, input)
      return to(enter({ ...server, lastError: event.reason }, { _tag: "Stopped" }, input, event.reason))
    case "Connected":
      if (state._tag !== "Starting") return illegal(server, event)
      // The handshake and the listing were a health check.
      return to(
        enter(
          { ...server, container: event.container, snapshot: event.snapshot, discoveredAt: input.now, lastHealthCheck: iso(input.now) },
          { _tag: "Ready", connection: event.connection, consecutiveOk: 0 },
          input,
        ),
        pingAfter(event.connection, 0, input),
      )
    case "ConnectFailed":
      if (state._tag !== "Starting") return illegal(server, event)
      // A deploy that never became ready is rolled back whole.
      if (state.why === "deploy")
        return to(
          enter({ ...server, lastError: event.reason }, { _tag: "Stopped" }, input, event.reason),
          { _tag: "RemoveContainer", containerId: server.container.containerId },
          { _tag: "Forget" },
        )
      return down(server, state.failures + 1, event.reason, input)
    case "Replaced": {
      const old = server.container.containerId
      return to(
        enter(
          { ...server, container: event.container, snapshot: event.snapshot, crashes: [], discoveredAt: input.now, lastHealthCheck: iso(input.now) },
          { _tag: "Ready", connection: event.connection, consecutiveOk: 0 },
          input,
          "redeployed",
        ),
        { _tag: "CancelTimers" },
        ...(event.sameServer ? [] : [{ _tag: "EndClientSessions" } as const]),
        ...(live === null ? [{ _tag: "CloseConnection" } as const] : [{ _tag: "DrainConnection", connection: live } as const]),
        ...(old === event.container.containerId ? [] : [{ _tag: "RemoveContainer", containerId: old } as const]),
        pingAfter(event.connection, 0, input),
      )
    }
    case "PingSucceeded": {
      if (live !== event.connection) return stay(server)
      const consecutiveOk = state._tag === "Ready" ? state.consecutiveOk + 1 : 1
      const checked = { ...server, pingLatencyMs: event.latencyMs, lastHealthCheck: iso(input.now) }
      const due = input.now - server.discoveredAt >= input.settings.discoveryIntervalMs
      return to(
        enter(due ? { ...checked, discoveredAt: input.now } : checked, { _tag: "Ready", connection: event.connection, consecutiveOk }, input),
        pingAfter(event.connection, consecutiveOk, input),
        ...(due ? [{ _tag: "Discover", connection: event.connection, lists: "all" } as const] : []),
      )
    }
    case "PingFailed": {
      if (live !== event.connection) return stay(server)
      const failedPings = state._tag === "Degraded" ? state.failedPings + 1 : 1
      const why = `no answer to ping within ${event.timeoutMs} ms`
      const checked = { ...server, lastHealthCheck: iso(input.now), lastError: why }
      if (failedPings < UNHEALTHY_AFTER_FAILED_PINGS) {
        return to(enter(checked, { _tag: "Degraded", connection: event.connection, failedPings }, input, why), pingAfter(event.connection, 0, input))
      }
      // Unhealthy: drop the connection (calls fail at once) and look at what the container is doing.
      return to(enter(checked, { _tag: "Down", failures: 0 }, input, why), { _tag: "CancelTimers" }, { _tag: "CloseConnection" }, { _tag: "InspectContainer" })
    }
    case "ConnectionLost": {
      if (live !== event.connection) return stay(server)
      const why = `connection lost: ${event.reason}`
      return to(
        enter({ ...server, lastError: why }, { _tag: "Down", failures: 0 }, input, event.reason),
        { _tag: "CancelTimers" },
        { _tag: "CloseConnection" },
        { _tag: "InspectContainer" },
      )
    }
    case "ContainerSeen": {
      const c = event.container
      if (state._tag === "Ready" || state._tag === "Degraded") {
        // A check after a gap in the event feed: only an exit it missed matters.
        return isRunning(c) || c.state === "paused" ? stay(server) : crashed(server, { exitCode: c.exitCode, outOfMemory: false, at: input.now }, input)
      }
      if (state._tag !== "Down") return illegal(server, event)
      if (isRunning(c))
        return to(enter({ ...server, container: c }, { _tag: "Starting", why: "reconnect", failures: state.failures }, input), { _tag: "Connect" })
      if (c.state === "paused") return down(server, state.failures + 1, "the container is paused", input)
      return crashed(server, { exitCode: c.exitCode, outOfMemory: false, at: input.now }, input)
    }
    case "InspectFailed":
      if (state._tag === "Ready" || state._tag === "Degraded") return stay(server)
      if (state._tag !== "Down") return illegal(server, event)
      return down(server, state.failures + 1, `cannot reach the container: ${event.reason}`, input)
    case "ContainerDied": {
      // Another container of the name (one a redeploy replaced), or an exit from before its current start.
      const startedAt = server.container.startedAt === null ? Number.NaN : Date.parse(server.container.startedAt)
      if (event.containerId !== server.container.containerId || event.at < startedAt) return stay(server)
      if (state._tag !== "Ready" && state._tag !== "Degraded" && state._tag !== "Down") return stay(server)
      return crashed(server, event, input)
    }
    case "ContainerDestroyed":
      if (event.containerId !== server.container.containerId || state._tag === "Stopping") return stay(server)
      return to(server, { _tag: "CancelTimers" }, { _tag: "CloseConnection" }, { _tag: "Forget" })
    case "EventFeedGap":
      return state._tag === "Ready" || state._tag === "Degraded" ? to(server, { _tag: "InspectContainer" }) : stay(server)
    case "RestartDue":
      if (state._tag !== "RestartScheduled") return stay(server)
      return to(
        enter(
          { ...server, restartCount: server.restartCount + 1 },
          { _tag: "Starting", why: "restart", failures: 0 },
          input,
          `restart ${server.restartCount + 1} after ${state.delayMs} ms`,
        ),
        { _tag: "StartContainer" },
      )
    case "ReconnectDue":
      return state._tag === "Down" ? to(server, { _tag: "InspectContainer" }) : stay(server)
    case "StopRequested":
      return to(enter(server, { _tag: "Stopping" }, input), { _tag: "CancelTimers" }, { _tag: "CloseConnection" }, { _tag: "StopContainer" })
    case "ContainerStopped":
      return state._tag === "Stopping" ? to(enter({ ...server, container: event.container }, { _tag: "Stopped" }, input)) : illegal(server, event)
    case "StopFailed":
      return state._tag === "Stopping" ? to({ ...server, lastError: `stop failed: ${event.reason}` }) : illegal(server, event)
    case "ListChanged":
      return live === event.connection ? to(server, { _tag: "Discover", connection: event.connection, lists: event.lists }) : stay(server)
    case "Discovered":
      return live === event.connection ? to({ ...server, snapshot: event.snapshot }) : stay(server)
  }
}
