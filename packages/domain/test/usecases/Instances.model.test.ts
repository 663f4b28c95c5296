import fc from "fast-check"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { makeInstances, type Instances } from "../../src/index.ts"
import { InMemoryContainerRuntime, run } from "@dtma/testing"

/** The oracle: which names exist and whether each is running. */
type Model = Map<string, "running" | "stopped">

interface Real {
  readonly runtime: InMemoryContainerRuntime
  instances: Instances
}

const IMAGE = "img:1"
const names = ["alpha", "beta", "gamma delta"] as const
const arbName = fc.constantFrom(...names)
const settings = { reservedHostPorts: [30000], stopGraceSeconds: 1 }

const outcome = async <A, E>(effect: Effect.Effect<A, E>) => {
  const exit = await Effect.runPromiseExit(effect)
  return Exit.isSuccess(exit) ? "ok" : ((exit.cause.reasons[0] as { error?: { _tag?: string } } | undefined)?.error?._tag ?? "defect")
}

/** After every command the API's view equals the model and the runtime holds nothing else. */
const checkInvariants = async (model: Model, real: Real) => {
  const listed = await run(real.instances.list())
  const view = new Map(listed.map((c) => [c.name, c.state === "running" ? "running" : "stopped"]))
  expect(view).toEqual(model)
  expect(listed).toHaveLength(new Set(listed.map((c) => c.name)).size)
  expect(real.runtime.containerCount()).toBe(model.size)
}

const command = (label: string, body: (model: Model, real: Real) => Promise<void>): fc.AsyncCommand<Model, Real> => ({
  check: () => true,
  run: async (model, real) => {
    await body(model, real)
    await checkInvariants(model, real)
  },
  toString: () => label,
})

const deploy = (name: string, failStart: boolean) =>
  command(`deploy(${name}${failStart ? ", start fails" : ""})`, async (model, real) => {
    // Only a deploy that reaches the start consumes the failure.
    const willStart = !model.has(name)
    if (failStart && willStart) real.runtime.failNextStart("boom")
    const result = await outcome(real.instances.deploy({ name, accountToolInstanceId: `ati-${name}`, image: IMAGE, env: [], ports: [] }))
    if (!willStart) expect(result).toBe("InstanceAlreadyExists")
    else if (failStart) expect(result).toBe("RuntimeOperationFailed")
    else {
      expect(result).toBe("ok")
      model.set(name, "running")
    }
  })

const start = (name: string) =>
  command(`start(${name})`, async (model, real) => {
    const result = await outcome(real.instances.start(name))
    expect(result).toBe(model.has(name) ? "ok" : "InstanceNotFound")
    if (model.has(name)) model.set(name, "running")
  })

const stop = (name: string) =>
  command(`stop(${name})`, async (model, real) => {
    const result = await outcome(real.instances.stop(name))
    expect(result).toBe(model.has(name) ? "ok" : "InstanceNotFound")
    if (model.has(name)) model.set(name, "stopped")
  })

const remove = (name: string) =>
  command(`remove(${name})`, async (model, real) => {
    expect(await outcome(real.instances.remove(name))).toBe(model.has(name) ? "ok" : "InstanceNotFound")
    model.delete(name)
  })

const crash = (name: string) =>
  command(`crash(${name})`, async (model, real) => {
    const c = (await run(real.instances.list())).find((x) => x.name === name)
    if (c !== undefined) real.runtime.crash(c.containerId, 1)
    if (model.get(name) === "running") model.set(name, "stopped")
  })

const restartDtma = () =>
  command("restartDtma", async (_model, real) => {
    real.instances = makeInstances({ runtime: real.runtime, settings })
    await run(real.instances.reconcile())
  })

describe("managed instances, model-based", () => {
  it("keep the API's view equal to the runtime's through any sequence of operations and DTMA restarts", async () => {
    const commands = [
      fc.tuple(arbName, fc.boolean()).map(([n, f]) => deploy(n, f)),
      arbName.map(start),
      arbName.map(stop),
      arbName.map(remove),
      arbName.map(crash),
      fc.constant(null).map(restartDtma),
    ]
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 40 }), async (cmds) => {
        const runtime = new InMemoryContainerRuntime({ images: [IMAGE] })
        const real: Real = { runtime, instances: makeInstances({ runtime, settings }) }
        await fc.asyncModelRun(() => ({ model: new Map(), real }), cmds)
      }),
      { numRuns: 150 },
    )
  })
})
