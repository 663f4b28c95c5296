import { Effect } from "effect"
import { expect } from "vitest"
import { IMPLIED, type Answered, type Implied, type Verb } from "./raceSupport.ts"
import type { TestApp } from "./support.ts"

interface Entry {
  readonly instance_name_on_toolbox: string
  readonly container_id: string
  readonly state: string
  readonly health_status: string | null
}

/** Lets fibers forked by the answered requests (disconnect handlers, closes) finish. */
export const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 5))
}

/**
 * The operations that may have been the last to take effect: every success no other success
 * began after (a request sent after an answer was read runs after it).
 */
export const lastCandidates = (answered: ReadonlyArray<Answered>): ReadonlyArray<Answered> => {
  const ok = answered.filter((a) => a.status < 300)
  return ok.filter((a) => !ok.some((b) => b !== a && b.sentAt > a.doneAt))
}

/** The state a name may be in after a wave: what some possibly-last success implies, or the state before when none succeeded. */
export const allowedAfter = (before: Implied, answered: ReadonlyArray<Answered>): ReadonlySet<Implied> => {
  const candidates = lastCandidates(answered)
  return new Set(candidates.length === 0 ? [before] : candidates.map((a) => IMPLIED[a.verb]))
}

/** How a check reads one DTMA: its API, and the containers its runtime really holds. */
export interface Observed {
  // JSON bodies are read freely in assertions.
  // oxlint-disable-next-line typescript/no-explicit-any
  get(path: string): Promise<{ readonly status: number; readonly body: any }>
  /** Every container of the DTMA's scope, by id and instance name. */
  containers(): Promise<ReadonlyArray<{ readonly id: string; readonly name: string }>>
  /** The instances that have credential directories or sockets delivered, when the check can see them. */
  credentials?(): Promise<ReadonlyArray<string>>
}

/** The fakes behind a test app, read like a real DTMA. */
export const observedApp = (app: TestApp): Observed => ({
  get: async (path) => {
    const res = await app.api(path)
    return { status: res.status, body: await res.json() }
  },
  containers: async () => (await Effect.runPromise(app.runtime.list())).map((c) => ({ id: c.containerId, name: c.name })),
  credentials: () => Effect.runPromise(app.credentialDelivery.provisioned()),
})

/**
 * Reads the API's view of every name and checks it is one view: `/tools/status`, `/mcp-servers`
 * and `/mcp-servers/:name` agree, the runtime holds exactly the containers listed (one per name, all
 * supervised), a running server is healthy, and credentials are delivered to exactly the listed
 * servers that take them by file or socket. Answers each name's state.
 */
export const observe = async (dtma: Observed, names: ReadonlyArray<string>): Promise<ReadonlyMap<string, Implied>> => {
  const status = (await dtma.get("/tools/status")).body as { tool_instances: ReadonlyArray<Entry>; mcp_servers: ReadonlyArray<Entry> }
  const listed = (await dtma.get("/mcp-servers")).body as { data: { servers: ReadonlyArray<{ instanceName: string }> } }
  const entries = status.mcp_servers.filter((e) => names.includes(e.instance_name_on_toolbox))
  const byName = new Map(entries.map((e) => [e.instance_name_on_toolbox, e]))
  // No orphan: the runtime holds exactly the containers the API lists, one per name.
  expect(entries.map((e) => e.instance_name_on_toolbox).sort()).toEqual([...byName.keys()].sort())
  const held = (await dtma.containers()).filter((c) => names.includes(c.name))
  expect(held.map((c) => c.id).sort()).toEqual(entries.map((e) => e.container_id).sort())
  expect(status.tool_instances.filter((e) => names.includes(e.instance_name_on_toolbox))).toHaveLength(entries.length)
  expect(
    listed.data.servers
      .map((s) => s.instanceName)
      .filter((n) => names.includes(n))
      .sort(),
  ).toEqual([...byName.keys()].sort())
  const seen = new Map<string, Implied>()
  const delivered: Array<string> = []
  for (const name of names) {
    const entry = byName.get(name)
    const one = await dtma.get(`/mcp-servers/${encodeURIComponent(name)}`)
    if (entry === undefined) {
      expect(one.status).toBe(404)
      seen.set(name, "absent")
      continue
    }
    expect(one.status).toBe(200)
    const detail = one.body.data as { container: { id: string; state: string }; healthStatus: string; credentials?: { injectionMethod: string } | null }
    if (detail.credentials != null && detail.credentials.injectionMethod !== "env_vars") delivered.push(name)
    // No lost instance: the container listed is the one supervised, and a running one answers.
    expect(detail.container).toMatchObject({ id: entry.container_id, state: entry.state })
    expect(entry.health_status).toBe(detail.healthStatus)
    expect(detail.healthStatus).toBe(entry.state === "running" ? "healthy" : "stopped")
    seen.set(name, entry.state === "running" ? "running" : "stopped")
  }
  // No orphan credential directory or socket, and none missing.
  if (dtma.credentials !== undefined) expect((await dtma.credentials()).filter((n) => names.includes(n)).sort()).toEqual(delivered.sort())
  return seen
}

export type Wave = ReadonlyArray<{ readonly verb: Verb; readonly name: string }>

export interface StormCount {
  waves: number
  operations: number
  succeeded: number
}

/**
 * Sends each wave's operations at once; once all are answered (and `settle` has let background work
 * finish), checks the API's one view and that each name is in a state some possibly-last success
 * implies. `send` answers the status; one outside `acceptable` fails the storm.
 */
export const runWaves = async (options: {
  readonly send: (verb: Verb, name: string) => Promise<number>
  readonly observed: Observed
  readonly names: ReadonlyArray<string>
  readonly waves: ReadonlyArray<Wave>
  readonly acceptable: ReadonlySet<number>
  readonly settle: () => Promise<void>
  readonly count: StormCount
}): Promise<void> => {
  const { names, count } = options
  let clock = 0
  let state = new Map<string, Implied>(names.map((n) => [n, "absent"]))
  for (const wave of options.waves) {
    count.waves++
    count.operations += wave.length
    const answered: Array<Answered> = await Promise.all(
      wave.map(async ({ verb, name }) => {
        const sentAt = ++clock
        const status = await options.send(verb, name)
        if (!options.acceptable.has(status)) throw new Error(`${verb} '${name}' answered ${status}`)
        return { verb, name, status, sentAt, doneAt: ++clock }
      }),
    )
    count.succeeded += answered.filter((a) => a.status < 300).length
    await options.settle()
    const seen = await observe(options.observed, names)
    for (const name of names) {
      const mine = answered.filter((a) => a.name === name)
      expect(allowedAfter(state.get(name)!, mine), `${name} after ${JSON.stringify(mine)}`).toContain(seen.get(name))
    }
    state = new Map(seen)
  }
}
