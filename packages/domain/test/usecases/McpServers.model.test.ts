import fc from "fast-check"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import type { McpServers } from "../../src/index.ts"
import { echoMcpServer } from "@dtma/testing"
import { droplet, request } from "./mcpDroplet.ts"
import { testSupervision } from "./testSupervision.ts"

const settings = testSupervision()
const { maxCrashes, windowMs } = settings.restartPolicy

/** The oracle: the servers that exist, whether an operator wants each running, and its recent crashes. */
interface ModelServer {
  running: boolean
  crashes: Array<number>
  circuitOpen: boolean
}
interface Model {
  readonly servers: Map<string, ModelServer>
}

interface Real {
  readonly d: ReturnType<typeof droplet>
  mcp: McpServers
  stop: () => Promise<void>
}

const names = ["alpha", "beta"] as const
const arbName = fc.constantFrom(...names)
const GOOD = "mcp/echo:1"
const SILENT = "mcp/silent:1"

const outcome = async <A, E>(real: Real, effect: Effect.Effect<A, E>) => {
  const exit = await real.d.vt.run(Effect.exit(effect))
  return Exit.isSuccess(exit) ? "ok" : ((exit.cause.reasons[0] as { error?: { _tag?: string } } | undefined)?.error?._tag ?? "defect")
}

/** Lets restarts and reconnections run their course: 300 ms of virtual time, in steps. */
const settleDown = async (real: Real) => {
  for (let i = 0; i < 30; i++) await real.d.vt.advance(10)
}

/** After every command, once supervision has settled, the API's view, the runtime and the connections agree with the model. */
const checkInvariants = async (model: Model, real: Real) => {
  await settleDown(real)
  const listed = real.mcp.list()
  expect(listed.map((v) => v.instanceName)).toEqual([...model.servers.keys()].sort())
  const containers = await real.d.vt.run(real.d.runtime.list())
  expect(containers.map((c) => c.name).sort()).toEqual([...model.servers.keys()].sort())
  for (const view of listed) {
    const expected = model.servers.get(view.instanceName)!
    const health = !expected.running ? "stopped" : expected.circuitOpen ? "unhealthy" : "healthy"
    expect({ name: view.instanceName, health: view.healthStatus }).toEqual({ name: view.instanceName, health })
    expect({ name: view.instanceName, channels: real.d.connector.openChannels(view.containerId) }).toEqual({
      name: view.instanceName,
      channels: health === "healthy" ? 1 : 0,
    })
    expect(view.healthHistory.some((h) => h.detail?.startsWith("internal error") === true)).toBe(false)
  }
}

const command = (label: string, body: (model: Model, real: Real) => Promise<void>): fc.AsyncCommand<Model, Real> => ({
  check: () => true,
  run: async (model, real) => {
    await body(model, real)
    await checkInvariants(model, real)
  },
  toString: () => label,
})

const deploy = (name: string, image: string) =>
  command(`deploy(${name}, ${image})`, async (model, real) => {
    const result = await outcome(real, real.mcp.deploy(request({ name, image })))
    if (model.servers.has(name)) return void expect(result).toBe("InstanceAlreadyExists")
    expect(result).toBe(image === GOOD ? "ok" : "McpServerNotReady")
    if (image === GOOD) model.servers.set(name, { running: true, crashes: [], circuitOpen: false })
  })

const crash = (name: string) =>
  command(`crash(${name})`, async (model, real) => {
    const server = model.servers.get(name)
    if (server === undefined || !server.running || server.circuitOpen) return
    await real.d.crash(real.mcp, name)
    const now = real.d.vt.now()
    server.crashes = [...server.crashes.filter((at) => now - at < windowMs), now]
    server.circuitOpen = server.crashes.length >= maxCrashes
  })

const breakConnection = (name: string) =>
  command(`breakConnection(${name})`, async (model, real) => {
    if (model.servers.get(name)?.running !== true) return
    const { containerId } = await real.d.vt.run(real.mcp.get(name))
    await real.d.connector.crash(containerId, "attach stream broke")
  })

const operate = (name: string, operation: "start" | "stop" | "restart") =>
  command(`${operation}(${name})`, async (model, real) => {
    const result = await outcome(real, real.mcp[operation](name))
    const server = model.servers.get(name)
    expect(result).toBe(server === undefined ? "InstanceNotFound" : "ok")
    if (server === undefined) return
    server.running = operation !== "stop"
    server.crashes = []
    server.circuitOpen = false
  })

/** A start that leaves a serving server alone: its crashes are not forgotten, its connection is kept. */
const startUnlessServing = (name: string) =>
  command(`startUnlessServing(${name})`, async (model, real) => {
    const connects = real.d.connector.connects.length
    const exit = await real.d.vt.run(Effect.exit(real.mcp.startUnlessServing(name)))
    const server = model.servers.get(name)
    if (server === undefined) return void expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("InstanceNotFound")
    const serving = server.running && !server.circuitOpen
    expect(Exit.isSuccess(exit) && exit.value.outcome).toBe(serving ? "already_running" : "started")
    if (serving) return void expect(real.d.connector.connects).toHaveLength(connects)
    Object.assign(server, { running: true, crashes: [], circuitOpen: false })
  })

const redeploy = (name: string, image: string) =>
  command(`redeploy(${name}, ${image})`, async (model, real) => {
    const result = await outcome(real, real.mcp.redeploy(request({ name, image })))
    const server = model.servers.get(name)
    if (server === undefined) return void expect(result).toBe("InstanceNotFound")
    expect(result).toBe(image === GOOD ? "ok" : "McpServerNotReady")
    if (image === GOOD) Object.assign(server, { running: true, crashes: [], circuitOpen: false })
  })

const remove = (name: string) =>
  command(`remove(${name})`, async (model, real) => {
    expect(await outcome(real, real.mcp.remove(name))).toBe(model.servers.has(name) ? "ok" : "InstanceNotFound")
    model.servers.delete(name)
  })

const tick = (ms: number) =>
  command(`tick(${ms})`, async (model, real) => {
    await real.d.vt.advance(ms)
  })

/** The DTMA process ends (its supervision stops, containers keep running) and a new one adopts what it finds. */
const restartDtma = () =>
  command("restartDtma", async (model, real) => {
    await real.stop()
    const next = await real.d.start()
    real.mcp = next.mcp
    real.stop = next.stop
    await real.d.vt.run(real.d.instances.reconcile())
    await real.d.vt.run(real.mcp.adopt())
    // A new DTMA remembers no crash; a server whose circuit was open has an exited container: adopted stopped.
    for (const server of model.servers.values()) {
      if (server.circuitOpen) server.running = false
      server.crashes = []
      server.circuitOpen = false
    }
  })

describe("MCP servers, model-based", () => {
  it("keep health, containers and connections as the model says through any sequence of operations, crashes and DTMA restarts", async () => {
    const commands = [
      fc.tuple(arbName, fc.constantFrom(GOOD, GOOD, SILENT)).map(([n, i]) => deploy(n, i)),
      // Crashes are weighted up: what the model checks most is what they lead to.
      arbName.map(crash),
      arbName.map(crash),
      arbName.map(crash),
      arbName.map(breakConnection),
      fc.tuple(arbName, fc.constantFrom("start", "stop", "restart") as fc.Arbitrary<"start" | "stop" | "restart">).map(([n, o]) => operate(n, o)),
      fc.tuple(arbName, fc.constantFrom("start", "restart") as fc.Arbitrary<"start" | "restart">).map(([n, o]) => operate(n, o)),
      arbName.map(startUnlessServing),
      fc.tuple(arbName, fc.constantFrom(GOOD, SILENT)).map(([n, i]) => redeploy(n, i)),
      arbName.map(remove),
      fc.constantFrom(1_000, 1_000, 1_000, 61_000).map(tick),
      fc.constant(null).map(restartDtma),
    ]
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 25 }), async (cmds) => {
        const d = droplet({ servers: { [GOOD]: echoMcpServer }, settings })
        const first = await d.start()
        const real: Real = { d, mcp: first.mcp, stop: first.stop }
        // Both servers start deployed, so that most commands act on one.
        for (const name of names) await d.vt.run(first.mcp.deploy(request({ name })))
        const servers = new Map(names.map((name) => [name, { running: true, crashes: [], circuitOpen: false } as ModelServer]))
        try {
          await fc.asyncModelRun(() => ({ model: { servers }, real }), cmds)
        } finally {
          await d.vt.close()
        }
      }),
      { numRuns: 100 },
    )
  }, 120_000)
})
