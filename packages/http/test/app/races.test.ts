import { setTimeout as delay } from "node:timers/promises"
import { Effect } from "effect"
import fc from "fast-check"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { observe, observedApp, runWaves, settle, type StormCount, type Wave } from "../support/raceChecks.ts"
import { sendToApp, startJitteryApp, VERBS } from "../support/raceSupport.ts"
import { deployBody, MCP_IMAGE, McpServingRuntime, mcpBody, NOW, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

describe("50 concurrent deploys of one name over HTTP", () => {
  it("answer one 201 and 49 × 409 for an MCP server, leaving one container", async () => {
    app = await startJitteryApp(7)
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => app!.json("POST", "/mcp-servers", mcpBody({ accountToolInstanceId: `ati-${i}` }))))
    const statuses = answers.map((r) => r.status)
    expect(statuses.filter((s) => s === 201)).toHaveLength(1)
    expect(statuses.filter((s) => s === 409)).toHaveLength(49)
    expect(app.runtime.containerCount()).toBe(1)
    await observe(observedApp(app), ["mcp-a"])
  })

  it("answer one 201 and 49 × 409 for a tool, leaving one container", async () => {
    app = await startJitteryApp(11)
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => app!.json("POST", "/tools", deployBody({ accountToolInstanceId: `ati-${i}` }))))
    const statuses = answers.map((r) => r.status)
    expect(statuses.filter((s) => s === 201)).toHaveLength(1)
    expect(statuses.filter((s) => s === 409)).toHaveLength(49)
    expect(app.runtime.containerCount()).toBe(1)
  })
})

/**
 * The MCP-serving fakes, slow to list containers (60 ms) and to start one (80 ms): a deploy stays
 * under way, its container created but its server not yet supervised, while other operations look.
 */
class SlowRuntime extends McpServingRuntime {
  constructor() {
    super({ images: [MCP_IMAGE], now: () => NOW.getTime() })
  }
  override list() {
    return Effect.sleep(60).pipe(Effect.andThen(super.list()))
  }
  override start(containerId: string) {
    return Effect.sleep(80).pipe(Effect.andThen(super.start(containerId)))
  }
}

// Found by a storm (seed 270832693): a legacy start looked for the server while its deploy was under
// way, found none supervised, and started the container behind the supervisor's back after the stop.
describe("a legacy start sent after a stop while the name's deploy is under way", () => {
  it("takes effect after the stop, through supervision: the server ends running and the API shows one view of it", async () => {
    const runtime = new SlowRuntime()
    app = await startTestApp({ runtime })
    const test = app
    const deployed = sendToApp(test, "deploy", "east")
    while (runtime.containerCount() === 0) await delay(1)
    const stopped = sendToApp(test, "toolStop", "east")
    await delay(30)
    const started = sendToApp(test, "toolStart", "east")
    expect(await Promise.all([deployed, stopped, started])).toEqual([201, 200, 200])
    await settle()
    expect(await observe(observedApp(test), ["east"])).toEqual(new Map([["east", "running"]]))
  })
})

// Over the fakes every storm operation succeeds, meets an absent name (404) or a taken one (409):
// any other answer (a 5xx above all) is a bug.
const ACCEPTABLE = new Set([200, 201, 404, 409])

const count: StormCount = { waves: 0, operations: 0, succeeded: 0 }
let storms = 0
afterAll(() => {
  if (storms > 0)
    console.info(`race storms over the fakes: ${storms} storms, ${count.waves} waves, ${count.operations} concurrent operations (${count.succeeded} succeeded)`)
})

/** One storm on a fresh app whose fake runtime pauses at random (from `seed`) before every call. */
const storm = async (seed: number, names: ReadonlyArray<string>, waves: ReadonlyArray<Wave>) => {
  storms++
  app = await startJitteryApp(seed)
  const test = app
  await runWaves({ send: (verb, name) => sendToApp(test, verb, name), observed: observedApp(test), names, waves, acceptable: ACCEPTABLE, settle, count })
  await test.close()
  app = undefined
}

/** Up to 6 waves of up to 12 operations (every verb, the legacy tool routes included) sent at once. */
const arbWaves = (names: ReadonlyArray<string>) =>
  fc.array(fc.array(fc.record({ verb: fc.constantFrom(...VERBS), name: fc.constantFrom(...names) }), { minLength: 1, maxLength: 12 }), {
    minLength: 1,
    maxLength: 6,
  })

describe("operation storms over the fakes", () => {
  it("on one name end in the state some last success implies, with no orphan container or credential delivery and no lost server", async () => {
    const names = ["storm"]
    await fc.assert(
      fc.asyncProperty(fc.integer(), arbWaves(names), (seed, waves) => storm(seed, names, waves)),
      { numRuns: 60 },
    )
  }, 180_000)

  it("across several names end as some last success implies for each, with no orphan container or credential delivery and no lost server", async () => {
    const names = ["north", "south wind", "east"]
    await fc.assert(
      fc.asyncProperty(fc.integer(), arbWaves(names), (seed, waves) => storm(seed, names, waves)),
      { numRuns: 60 },
    )
  }, 180_000)
})
