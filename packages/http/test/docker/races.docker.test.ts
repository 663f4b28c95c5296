import { execFileSync } from "node:child_process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { observe, runWaves, type Observed, type StormCount, type Wave } from "../support/raceChecks.ts"
import { requestOf, seeded, VERBS } from "../support/raceSupport.ts"

const MEMORY = "dtma/mcp-memory:2026.8.31"
const run = `race${Date.now().toString(36)}`
const names = [`${run}-a`, `${run}-b b`]

/** Every container of the DTMA's scope, stopped ones included, as the engine lists them. */
const scopeContainers = (scope: string): ReadonlyArray<{ readonly id: string; readonly name: string }> =>
  execFileSync("docker", ["ps", "-a", "--no-trunc", "--filter", `label=dtma.managed=${scope}`, "--format", '{{.ID}}\t{{.Label "dtma.name"}}'], {
    encoding: "utf8",
  })
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const [id = "", name = ""] = line.split("\t")
      return { id, name }
    })

let dtma: DtmaProcess
beforeAll(async () => {
  dtma = await startDtma()
})
afterAll(async () => {
  for (const c of scopeContainers(dtma.scope)) execFileSync("docker", ["rm", "-f", c.id])
  await dtma.kill("SIGTERM")
})

const body = (name: string) => ({ dockerImageUrl: MEMORY, instanceNameOnToolbox: name, accountToolInstanceId: `ati-${name}`, mcpTransportType: "stdio" })

describe("an operation storm on a real engine", () => {
  it("ends in the state some last success implies, and the engine holds exactly the containers the API lists", async () => {
    const random = seeded(20_260_831)
    const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!
    const live = VERBS.filter((v) => v !== "deploy" && v !== "delete" && v !== "toolDelete")
    // Deploys race first; then three waves of start/stop/restart/redeploy (and their legacy forms) at
    // random on both servers; then a removal races a redeploy, a stop and a deploy; then removals race deploys.
    const waves: Array<Wave> = [
      [...names, ...names, names[0]!].map((name) => ({ verb: "deploy" as const, name })),
      ...Array.from({ length: 3 }, () => Array.from({ length: 8 }, () => ({ verb: pick(live), name: pick(names) }))),
      names.flatMap((name) => (["redeploy", "delete", "stop", "deploy"] as const).map((verb) => ({ verb, name }))),
      names.flatMap((name) => (["delete", "deploy", "toolDelete"] as const).map((verb) => ({ verb, name }))),
    ]
    const observed: Observed = { get: (path) => dtma.call("GET", path), containers: async () => scopeContainers(dtma.scope) }
    const count: StormCount = { waves: 0, operations: 0, succeeded: 0 }
    await runWaves({
      send: async (verb, name) => {
        const { method, path, body: sent } = requestOf(verb, name, body(name))
        return (await dtma.call(method, path, sent)).status
      },
      observed,
      names,
      waves,
      acceptable: new Set([200, 201, 404, 409]),
      settle: () => new Promise((r) => setTimeout(r, 300)),
      count,
    })
    console.info(`race storm on Docker: ${count.waves} waves, ${count.operations} concurrent operations (${count.succeeded} succeeded)`)

    // Whatever is left goes through the API, and then the engine holds nothing of this DTMA's.
    for (const name of names) await dtma.call("DELETE", `/mcp-servers/${encodeURIComponent(name)}`)
    await observe(observed, names)
    expect(scopeContainers(dtma.scope)).toEqual([])
  }, 300_000)
})
