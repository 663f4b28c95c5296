import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { toolOperations } from "../../src/index.ts"
import { droplet, request } from "./mcpDroplet.ts"

/** The droplet of the running test, closed after it. */
let open: ReturnType<typeof droplet> | undefined
afterEach(async () => {
  await open?.vt.close()
  open = undefined
})

/**
 * A droplet where a deploy stays under way for a while: its runtime takes `startMs` to start a
 * container (the deploy's container is created and not yet supervised meanwhile) and `listMs` to
 * list containers (every operation looking for a name waits that long), its servers take
 * `connectMs` to accept a connection (the server is supervised and `starting` meanwhile).
 */
const slowDroplet = async (slow: { readonly startMs?: number; readonly connectMs?: number; readonly listMs?: number }) => {
  const d = droplet()
  open = d
  const { runtime, connector } = d
  const list = runtime.list.bind(runtime)
  const { listMs } = slow
  if (listMs !== undefined) runtime.list = () => Effect.sleep(listMs).pipe(Effect.andThen(list()))
  const start = runtime.start.bind(runtime)
  runtime.start = (containerId) => Effect.sleep(slow.startMs ?? 0).pipe(Effect.andThen(start(containerId)))
  const create = runtime.create.bind(runtime)
  runtime.create = (spec, options) => create(spec, options).pipe(Effect.tap((c) => Effect.sync(() => connector.makeSlow(c.containerId, slow.connectMs ?? 0))))
  const { mcp } = await d.start()
  // What the runtime holds, read without the slowness (nothing advances the clock by then).
  const held = () => d.vt.run(list())
  return { d, mcp, tools: toolOperations(d.instances, mcp), held }
}

/** Deploys, then sends a stop and, after it, a start (legacy routes) while the deploy is under way. */
const deployThenStopThenStart = async (slow: Parameters<typeof slowDroplet>[0]) => {
  const { d, mcp, tools, held } = await slowDroplet(slow)
  const answered: Array<string> = []
  const deployed = d.vt.run(mcp.deploy(request())).then(() => answered.push("deploy"))
  await d.vt.advance(0)
  const stopped = d.vt.run(tools.stop("echo-server")).then(() => answered.push("stop"))
  await d.vt.advance(0)
  const started = d.vt.run(tools.start("echo-server")).then((s) => {
    answered.push("start")
    return s
  })
  await d.vt.until(() => answered.length === 3, { limitMs: 2_000 })
  await Promise.all([deployed, stopped])
  return { answered, started: await started, view: await d.vt.run(mcp.get("echo-server")), held: await held() }
}

describe("the legacy tool operations on an MCP server whose deploy is under way", () => {
  it.each([
    { what: "starting a container", slow: { startMs: 100 } },
    // The storm's case: the start, answered by nobody supervising, reached the runtime after the stop.
    { what: "listing containers", slow: { listMs: 100 } },
  ])("start it after a stop sent before it, through supervision, so the server ends running and the runtime agrees ($what takes 100 ms)", async ({ slow }) => {
    const { answered, started, view, held } = await deployThenStopThenStart(slow)
    expect(answered).toEqual(["deploy", "stop", "start"])
    expect(started).toEqual({ outcome: "started", state: "running" })
    expect(view).toMatchObject({ containerState: "running", healthStatus: "healthy" })
    expect(held.map((c) => [c.containerId, c.state])).toEqual([[view.containerId, "running"]])
  })

  it("answer a start sent while the deploy connects as already running once the deploy has made it ready, without reconnecting it", async () => {
    const { d, mcp, tools } = await slowDroplet({ connectMs: 100 })
    const answered: Array<string> = []
    const deployed = d.vt.run(mcp.deploy(request())).then(() => answered.push("deploy"))
    await d.vt.advance(0)
    const started = d.vt.run(tools.start("echo-server")).then((s) => {
      answered.push("start")
      return s
    })
    await d.vt.until(() => answered.length === 2, { limitMs: 2_000 })
    await deployed
    expect(answered).toEqual(["deploy", "start"])
    expect(await started).toEqual({ outcome: "already_running", state: "running" })
    expect(await d.vt.run(mcp.get("echo-server"))).toMatchObject({ containerState: "running", healthStatus: "healthy", restartCount: 0 })
    expect(d.connector.connects).toHaveLength(1)
  })
})
