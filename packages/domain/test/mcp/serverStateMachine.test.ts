import fc from "fast-check"
import * as Result from "effect/Result"
import { describe, expect, it } from "vitest"
import type { ManagedContainer } from "../../src/ManagedInstance.ts"
import type { CapabilitySnapshot } from "../../src/mcp/discovery.ts"
import {
  connectionOf,
  firstStep,
  healthOf,
  step,
  UNHEALTHY_AFTER_FAILED_PINGS,
  type ServerCommand,
  type ServerEvent,
  type StepInput,
  type SupervisedServer,
} from "../../src/mcp/serverStateMachine.ts"

const settings: StepInput["settings"] = {
  restartPolicy: { baseDelayMs: 500, maxDelayMs: 30_000, maxCrashes: 5, windowMs: 120_000 },
  pingBaseMs: 1_000,
  pingMaxMs: 30_000,
  pingTimeoutMs: 1_000,
  discoveryIntervalMs: 60_000,
}

const container = (state: ManagedContainer["state"] = "running", startedAt = 0): ManagedContainer => ({
  containerId: "c1",
  name: "srv",
  containerName: "srv",
  accountToolInstanceId: "ati-1",
  image: "img:1",
  kind: "mcp_server",
  state,
  exitCode: state === "exited" ? 1 : null,
  startedAt: new Date(startedAt).toISOString(),
  createdAt: 0,
  ports: [],
  mcp: { transport: "stdio", endpointPath: null, port: null },
})

const snapshot: CapabilitySnapshot = {
  protocolVersion: "2025-11-25",
  serverInfo: { name: "s", version: "1" },
  serverCapabilities: {},
  tools: [],
  resources: [],
  resourceTemplates: [],
  prompts: [],
  hash: "0",
  fetchedAt: "t",
}

/** Commands whose outcome the interpreter applies at once, as the next event. */
const INLINE = new Set<ServerCommand["_tag"]>(["StartContainer", "Connect", "InspectContainer", "StopContainer"])

/**
 * A world for the state machine: it answers inline commands with outcomes the test chooses, keeps
 * the timers it was asked for, and numbers connections as the interpreter does.
 */
interface World {
  server: SupervisedServer
  now: number
  connections: number
  /** Events that timers, pings and rediscoveries would deliver later. */
  pending: Array<ServerEvent>
  readonly trace: Array<{ readonly event: ServerEvent; readonly commands: ReadonlyArray<ServerCommand>; readonly before: SupervisedServer }>
}

const input = (world: World, random = 0.5): StepInput => ({ now: world.now, random, settings })

/** Applies `event` and every inline outcome it leads to; `succeed` decides each outcome. */
const feed = (world: World, event: ServerEvent, succeed: () => boolean): void => {
  const before = world.server
  const result = step(world.server, event, input(world))
  if (Result.isFailure(result)) throw new Error(`${result.failure.message} (after ${world.trace.map((t) => t.event._tag).join(", ")})`)
  const { server, commands } = result.success
  world.server = server
  world.trace.push({ event, commands, before })
  for (const command of commands) {
    if (command._tag === "Forget") return
    if (INLINE.has(command._tag)) return feed(world, outcomeOf(world, command, succeed()), succeed)
    if (command._tag === "CancelTimers") world.pending = []
    if (command._tag === "Schedule") world.pending.push({ _tag: command.event })
    if (command._tag === "Ping")
      world.pending.push(
        { _tag: "PingSucceeded", connection: command.connection, latencyMs: 3 },
        { _tag: "PingFailed", connection: command.connection, timeoutMs: 1_000 },
      )
    if (command._tag === "Discover") world.pending.push({ _tag: "Discovered", connection: command.connection, snapshot })
  }
}

const outcomeOf = (world: World, command: ServerCommand, ok: boolean): ServerEvent => {
  switch (command._tag) {
    case "StartContainer":
      return ok ? { _tag: "ContainerStarted", container: container("running", world.now) } : { _tag: "StartFailed", reason: "no" }
    case "Connect":
      return ok ? { _tag: "Connected", connection: ++world.connections, container: world.server.container, snapshot } : { _tag: "ConnectFailed", reason: "no" }
    case "InspectContainer":
      return ok
        ? { _tag: "ContainerSeen", container: container(world.now % 3 === 0 ? "exited" : world.now % 3 === 1 ? "paused" : "running") }
        : { _tag: "InspectFailed", reason: "no" }
    default:
      return ok ? { _tag: "ContainerStopped", container: container("exited") } : { _tag: "StopFailed", reason: "no" }
  }
}

/** Events from outside the interpreter's own commands: operators, Docker, lost connections, and old or new timers. */
const externalEvent = (world: World, pick: number, connection: number): ServerEvent => {
  const live = connectionOf(world.server.state) ?? connection
  const options: ReadonlyArray<ServerEvent> = [
    { _tag: "StartRequested" },
    { _tag: "StopRequested" },
    { _tag: "ContainerDied", containerId: "c1", exitCode: 1, outOfMemory: pick % 2 === 0, at: world.now },
    { _tag: "ContainerDied", containerId: "old", exitCode: 1, outOfMemory: false, at: world.now },
    { _tag: "ContainerDestroyed", containerId: "old" },
    { _tag: "EventFeedGap" },
    { _tag: "RestartDue" },
    { _tag: "ReconnectDue" },
    { _tag: "ConnectionLost", connection: live, reason: "broke" },
    { _tag: "ConnectionLost", connection, reason: "old news" },
    { _tag: "PingSucceeded", connection, latencyMs: 1 },
    { _tag: "PingFailed", connection, timeoutMs: 1_000 },
    { _tag: "ListChanged", connection: live, lists: ["tools"] },
    {
      _tag: "Replaced",
      connection: ++world.connections,
      container: { ...container("running", world.now), containerId: "c1" },
      snapshot,
      sameServer: pick % 3 === 0,
    },
    ...world.pending,
  ]
  return options[pick % options.length]!
}

const arbRun = fc.record({
  adopt: fc.boolean(),
  steps: fc.array(fc.record({ pick: fc.nat(), connection: fc.nat({ max: 6 }), advanceMs: fc.nat({ max: 40_000 }) }), { maxLength: 60 }),
  outcomes: fc.infiniteStream(fc.boolean()),
})

/** Drives a server from its first step through random events; returns the world. */
const drive = (run: {
  readonly adopt: boolean
  readonly steps: ReadonlyArray<{ pick: number; connection: number; advanceMs: number }>
  readonly outcomes: fc.Stream<boolean>
}) => {
  const outcomes = run.outcomes[Symbol.iterator]()
  const succeed = () => outcomes.next().value !== false
  const first = firstStep(container(), run.adopt ? "adopt" : "deploy")
  const world: World = { server: first.server, now: 0, connections: 0, pending: [], trace: [] }
  if (succeed()) feed(world, { _tag: "Connected", connection: ++world.connections, container: container(), snapshot }, succeed)
  else feed(world, { _tag: "ConnectFailed", reason: "no" }, succeed)
  for (const s of run.steps) {
    if (world.server.state._tag === "Stopped" && world.trace.at(-1)?.commands.some((c) => c._tag === "Forget")) break
    world.now += s.advanceMs
    const event = externalEvent(world, s.pick, s.connection)
    world.pending = world.pending.filter((p) => p !== event)
    feed(world, event, succeed)
  }
  return world
}

describe("the server state machine", () => {
  it("accepts every event from outside in every state it can reach: stale ones change nothing", () => {
    fc.assert(
      fc.property(arbRun, (run) => void drive(run)),
      { numRuns: 500 },
    )
  })

  it("reports the health its state says, and keeps a history of at most 20 changes ending in it", () => {
    fc.assert(
      fc.property(arbRun, (run) => {
        for (const { before } of drive(run).trace) {
          expect(before.history.length).toBeLessThanOrEqual(20)
          if (before.history.length > 0) expect(before.history.at(-1)!.status).toBe(healthOf(before.state))
        }
      }),
      { numRuns: 300 },
    )
  })

  it("ignores a ping answer, a lost connection, a list change or a listing from a connection that is no longer live", () => {
    fc.assert(
      fc.property(arbRun, (run) => {
        for (const { event, before, commands } of drive(run).trace) {
          const live = connectionOf(before.state)
          const stale = "connection" in event && event._tag !== "Connected" && event._tag !== "Replaced" && event.connection !== live
          if (stale) expect(commands).toEqual([])
        }
      }),
      { numRuns: 300 },
    )
  })

  it("never starts, connects or schedules a restart for a server an operator stopped, until it is started", () => {
    fc.assert(
      fc.property(arbRun, (run) => {
        for (const { event, before, commands } of drive(run).trace) {
          if ((before.state._tag !== "Stopping" && before.state._tag !== "Stopped") || event._tag === "StartRequested" || event._tag === "Replaced") continue
          expect(commands.filter((c) => c._tag === "StartContainer" || c._tag === "Connect" || c._tag === "Schedule" || c._tag === "Ping")).toEqual([])
        }
      }),
      { numRuns: 300 },
    )
  })

  it("pings every connection it makes live, and keeps only the live one open", () => {
    fc.assert(
      fc.property(arbRun, (run) => {
        const world = drive(run)
        for (const [i, { commands }] of world.trace.entries()) {
          const after = world.trace[i + 1]?.before ?? world.server
          const live = connectionOf(after.state)
          if (live !== null && connectionOf(world.trace[i]!.before.state) !== live)
            expect(commands).toContainEqual(expect.objectContaining({ _tag: "Ping", connection: live }))
          if (live === null && commands.some((c) => c._tag === "Ping")) throw new Error("a ping was asked for with no live connection")
        }
      }),
      { numRuns: 300 },
    )
  })
})

describe("crashes and the circuit breaker", () => {
  const ready = (): World => {
    const world: World = { server: firstStep(container(), "deploy").server, now: 1_000, connections: 0, pending: [], trace: [] }
    feed(world, { _tag: "Connected", connection: ++world.connections, container: container("running", 0), snapshot }, () => true)
    return world
  }
  const crash = (world: World) => {
    world.now += 1_000
    feed(world, { _tag: "ContainerDied", containerId: "c1", exitCode: 1, outOfMemory: false, at: world.now }, () => true)
  }

  it("restarts a crashed server after a backoff that doubles, then opens the circuit at the fifth crash in the window", () => {
    const world = ready()
    const delays: Array<number> = []
    for (let i = 0; i < 4; i++) {
      crash(world)
      expect(world.server.state._tag).toBe("RestartScheduled")
      delays.push(world.trace.at(-1)!.commands.find((c) => c._tag === "Schedule")!.afterMs as number)
      world.now += 1
      feed(world, { _tag: "RestartDue" }, () => true)
      expect(world.server.state._tag).toBe("Ready")
    }
    expect(delays).toEqual([500, 1_000, 2_000, 4_000])
    crash(world)
    expect(world.server).toMatchObject({ state: { _tag: "CircuitOpen" }, restartCount: 4 })
    expect(world.server.lastError).toContain("crashed 5 times")
    for (const event of [{ _tag: "RestartDue" }, { _tag: "ReconnectDue" }, { _tag: "EventFeedGap" }] as const) {
      feed(world, event, () => true)
      expect(world.server.state._tag).toBe("CircuitOpen")
    }
    feed(world, { _tag: "StartRequested" }, () => true)
    expect(world.server).toMatchObject({ state: { _tag: "Ready" }, crashes: [] })
  })

  it("counts an exit once, however often it is reported, and ignores one from before the container's current start", () => {
    const world = ready()
    crash(world)
    const after = world.server
    feed(world, { _tag: "ContainerDied", containerId: "c1", exitCode: 1, outOfMemory: false, at: world.now }, () => true)
    expect(world.server).toBe(after)
    feed(world, { _tag: "RestartDue" }, () => true)
    feed(world, { _tag: "ContainerDied", containerId: "c1", exitCode: 1, outOfMemory: false, at: world.now - 10 }, () => true)
    expect(world.server.state._tag).toBe("Ready")
    expect(world.server.crashes).toHaveLength(1)
  })

  it(`calls a server unhealthy after ${UNHEALTHY_AFTER_FAILED_PINGS} pings without an answer, drops its connection and looks at its container`, () => {
    const world = ready()
    for (let i = 1; i < UNHEALTHY_AFTER_FAILED_PINGS; i++) {
      feed(world, { _tag: "PingFailed", connection: 1, timeoutMs: 1_000 }, () => true)
      expect(world.server.state).toEqual({ _tag: "Degraded", connection: 1, failedPings: i })
    }
    const result = step(world.server, { _tag: "PingFailed", connection: 1, timeoutMs: 1_000 }, input(world))
    expect(Result.getOrThrow(result).server.state).toEqual({ _tag: "Down", failures: 0 })
    expect(Result.getOrThrow(result).commands.map((c) => c._tag)).toEqual(["CancelTimers", "CloseConnection", "InspectContainer"])
  })

  it("rolls a deploy that never became ready back whole, and keeps retrying an adopted server that will not answer", () => {
    const deploy = Result.getOrThrow(
      step(firstStep(container(), "deploy").server, { _tag: "ConnectFailed", reason: "no answer" }, { now: 0, random: 0.5, settings }),
    )
    expect(deploy.commands).toEqual([{ _tag: "RemoveContainer", containerId: "c1" }, { _tag: "Forget" }])
    const adopted = Result.getOrThrow(
      step(firstStep(container(), "adopt").server, { _tag: "ConnectFailed", reason: "no answer" }, { now: 0, random: 0.5, settings }),
    )
    expect(adopted.server.state).toEqual({ _tag: "Down", failures: 1 })
    expect(adopted.commands).toContainEqual({ _tag: "Schedule", event: "ReconnectDue", afterMs: 1_000 })
  })

  it("refuses an outcome nobody asked for", () => {
    const world = ready()
    for (const event of [
      { _tag: "Connected", connection: 9, container: container(), snapshot },
      { _tag: "ContainerStopped", container: container() },
      { _tag: "StartFailed", reason: "x" },
    ] as const) {
      expect(Result.isFailure(step(world.server, event, input(world)))).toBe(true)
    }
  })
})
