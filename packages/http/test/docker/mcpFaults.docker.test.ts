import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { containersNamed, docker, echo, echoLoop, mcpClient, removeContainersNamed, sleep, textOf, waitFor, type CallTally } from "../support/mcpClient.ts"

// The issue's fault-tolerance acceptance criteria, each proved against a real engine and a real DTMA process.

const EVERYTHING = "dtma/mcp-everything:2026.8.31"
const MEMORY = "dtma/mcp-memory:2026.8.31"
const run = `flt${Date.now().toString(36)}`
// A second tag of the same image, for "a redeploy with a new image".
const REDEPLOY_IMAGE = `dtma/mcp-everything:redeploy-${run}`

interface HealthRecord {
  readonly at: string
  readonly status: string
  readonly detail: string | null
}
/** What `GET /mcp-servers/:name` answers in `data` (the parts these tests read). */
interface Detail {
  readonly healthStatus: string
  readonly restartCount: number
  readonly lastError: string | null
  readonly healthHistory: ReadonlyArray<HealthRecord>
  readonly container: { readonly id: string; readonly image: string; readonly state: string }
}
interface DiscoveredTool {
  readonly name: string
}
interface Discovered {
  readonly instanceName: string
  readonly healthStatus: string
  readonly capabilities: { readonly tools: ReadonlyArray<DiscoveredTool> } | null
}

let dtma: DtmaProcess
const names = new Set<string>()
const clients: Array<Client> = []

const nameOf = (suffix: string): string => {
  const name = `${run}-${suffix}`
  names.add(name)
  return name
}

const deploy = (name: string, body: Record<string, unknown> = {}) =>
  dtma.call("POST", "/mcp-servers", {
    dockerImageUrl: EVERYTHING,
    instanceNameOnToolbox: name,
    accountToolInstanceId: `ati-${name}`,
    mcpTransportType: "stdio",
    ...body,
  })

const deployed = async (name: string, body: Record<string, unknown> = {}): Promise<{ containerId: string }> => {
  const res = await deploy(name, body)
  if (res.status !== 201) throw new Error(`deploying ${name} answered ${res.status}: ${JSON.stringify(res.body)}`)
  return res.body.data
}

const detail = async (name: string): Promise<Detail> => {
  const res = await dtma.call("GET", `/mcp-servers/${encodeURIComponent(name)}`)
  if (res.status !== 200) throw new Error(`GET /mcp-servers/${name} answered ${res.status}: ${JSON.stringify(res.body)}`)
  return res.body.data
}

const client = async (name: string): Promise<Client> => {
  const c = await mcpClient(`${dtma.url}/mcp-servers/${encodeURIComponent(name)}/mcp`, dtma.token!)
  clients.push(c)
  return c
}

const remove = async (name: string): Promise<void> => {
  const res = await dtma.call("DELETE", `/mcp-servers/${encodeURIComponent(name)}`)
  expect(res, `removing ${name}`).toMatchObject({ status: 200, body: { success: true } })
}

beforeAll(async () => {
  await docker("tag", EVERYTHING, REDEPLOY_IMAGE)
  dtma = await startDtma()
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
  await dtma?.kill("SIGKILL")
  await removeContainersNamed(names)
  await docker("rmi", REDEPLOY_IMAGE).catch(() => undefined)
})

describe("MCP server faults on a real engine", () => {
  it("notices a `docker kill` of a server's container within a second, and the server is healthy again after its restart", async () => {
    const name = nameOf("killed")
    const { containerId } = await deployed(name)
    const before = await client(name)
    await echo(before, "before the kill")

    // Taken before the CLI even starts: the latency measured is an upper bound.
    const killedAt = Date.now()
    await docker("kill", containerId)
    const unhealthy = await waitFor(
      "an unhealthy entry in healthHistory",
      async () => (await detail(name)).healthHistory.find((h) => h.status === "unhealthy" && Date.parse(h.at) >= killedAt),
      5_000,
      10,
    )
    const latencyMs = Date.parse(unhealthy.at) - killedAt
    console.log(`docker kill → unhealthy in healthHistory: ${latencyMs} ms (${unhealthy.detail})`)
    expect(latencyMs).toBeLessThan(1_000)

    const restarted = Date.now()
    const healthy = await waitFor(
      "healthy again after one restart",
      async () => {
        const view = await detail(name)
        return view.healthStatus === "healthy" && view.restartCount === 1 ? view : undefined
      },
      20_000,
    )
    console.log(`unhealthy → healthy again (restartCount 1) in ${Date.now() - restarted} ms after the kill was seen`)
    expect(healthy.container).toMatchObject({ id: containerId, state: "running" })
    // The engine's own report of the kill is in the history, not only the broken connection.
    const died = healthy.healthHistory.find((h) => h.detail?.includes("exited with code 137") === true)
    expect(died).toBeDefined()
    console.log(`docker kill → the engine's die event recorded: ${Date.parse(died!.at) - killedAt} ms`)

    await echo(await client(name), "after the restart, a new session")
    await echo(before, "after the restart, the session opened before the kill")
    expect((await detail(name)).restartCount).toBe(1)
    await remove(name)
  }, 60_000)

  it("ends a server that exits at once on every start in `unhealthy` with the reason, after 4 restarts, not a restart storm", async () => {
    const name = nameOf("crashloop")
    // A server that works until `deadline` and exits at once (code 1) whenever it starts after it:
    // a preload through NODE_OPTIONS, the only lever the API gives over the image's entrypoint.
    // The container's root filesystem is read-only and its /tmp is fresh on every start, so a
    // moment in time is the one thing that can tell the first start from the later ones. (Node's
    // NODE_OPTIONS parser eats double quotes, hence the backticks; no spaces either.)
    const deadline = Date.now() + 8_000
    const preload = `if(Date.now()>${deadline}){console.error(\`crash-on-start:past-the-test-deadline\`);process.exit(1)}`
    const { containerId } = await deployed(name, { baseConfigOverrideJson: { Env: [`NODE_OPTIONS=--import=data:text/javascript,${preload}`] } })
    await echo(await client(name), "before the deadline")
    expect(Date.now(), "the deploy must finish before the deadline").toBeLessThan(deadline)
    await sleep(deadline - Date.now() + 100)

    const killedAt = Date.now()
    await docker("kill", containerId)
    const gaveUp = await waitFor(
      "the restart policy to give up",
      async () => {
        const view = await detail(name)
        return view.lastError?.includes("crashed 5 times") === true ? view : undefined
      },
      45_000,
      50,
    )
    console.log(`first crash → circuit open in ${Date.now() - killedAt} ms; lastError: ${gaveUp.lastError}`)
    expect(gaveUp.healthStatus).toBe("unhealthy")
    // The four restarts each exited by themselves, with the server's code.
    expect(gaveUp.lastError).toMatch(/container exited with code 1; crashed 5 times within 120 s/)
    expect(gaveUp.restartCount).toBe(4)
    const since = (h: HealthRecord) => `+${Date.parse(h.at) - killedAt} ms ${h.status}${h.detail === null ? "" : ` (${h.detail})`}`
    console.log(
      `history since the kill:\n  ${gaveUp.healthHistory
        .filter((h) => Date.parse(h.at) >= killedAt)
        .map(since)
        .join("\n  ")}`,
    )

    await sleep(3_000)
    const later = await detail(name)
    expect(later).toMatchObject({ healthStatus: "unhealthy", restartCount: 4 })
    expect(later.lastError).toContain("crashed 5 times")
    const containers = await containersNamed(name)
    expect(containers).toEqual([{ id: containerId, state: "exited" }])
    const logs = await dtma.call("GET", `/mcp-servers/${encodeURIComponent(name)}/logs?tail=50`)
    expect(logs.body.data.lines.some((l: { text: string }) => l.text.includes("crash-on-start"))).toBe(true)
    await remove(name)
  }, 90_000)

  it("answers every call to server A while server B is deployed, restarted, redeployed with a new image and removed; B's redeploy loses none", async () => {
    const a = nameOf("a")
    const b = nameOf("b")
    await deployed(a)
    const aClients = await Promise.all(Array.from({ length: 4 }, () => client(a)))
    const aLoops = aClients.map((c, i) => echoLoop(c, `A client ${i} message`))
    const aOk = () => aLoops.reduce((sum, l) => sum + l.tally.ok, 0)

    const phases: Array<{ phase: string; ms: number; aCalls: number }> = []
    const phase = async <T>(label: string, act: () => Promise<T>): Promise<T> => {
      const [started, okBefore] = [Date.now(), aOk()]
      const result = await act()
      phases.push({ phase: label, ms: Date.now() - started, aCalls: aOk() - okBefore })
      return result
    }

    // Some calls to A before B appears, so the loops are known to run.
    await waitFor("calls to A", async () => (aOk() >= 20 ? true : undefined), 10_000)
    const first = await phase("deploy B", () => deployed(b))
    const restarted = await phase("restart B", () => dtma.call("POST", `/mcp-servers/${encodeURIComponent(b)}/restart`))
    expect(restarted, `restart: ${JSON.stringify(restarted.body)}`).toMatchObject({ status: 200, body: { data: { healthStatus: "healthy", restartCount: 1 } } })

    const bClient = await client(b)
    await echo(bClient, "B before the redeploy")
    const bLoop = echoLoop(bClient, "B message")
    await waitFor("calls to B", async () => (bLoop.tally.ok >= 5 ? true : undefined), 10_000)
    const redeployed = await phase("redeploy B", () =>
      dtma.call("POST", `/mcp-servers/${encodeURIComponent(b)}/redeploy`, {
        dockerImageUrl: REDEPLOY_IMAGE,
        accountToolInstanceId: `ati-${b}`,
        mcpTransportType: "stdio",
      }),
    )
    const bTally: CallTally = await bLoop.stop()
    expect(redeployed, `redeploy: ${JSON.stringify(redeployed.body)}`).toMatchObject({
      status: 200,
      body: { data: { healthStatus: "healthy", container: { image: REDEPLOY_IMAGE, state: "running" } } },
    })
    expect(redeployed.body.data.container.id).not.toBe(first.containerId)
    expect((await containersNamed(b)).map((c) => c.id)).toEqual([redeployed.body.data.container.id])
    await echo(bClient, "B after the redeploy")

    await phase("remove B", () => remove(b))
    expect(await containersNamed(b)).toEqual([])
    await phase("after B", () => sleep(500))

    const aTallies = await Promise.all(aLoops.map((l) => l.stop()))
    console.log(
      `A (4 sessions): ${aTallies.map((t) => t.ok).join(" + ")} = ${aOk()} calls answered, ${aTallies.reduce((s, t) => s + t.failed, 0)} failed; ` +
        `by phase of B: ${phases.map((p) => `${p.phase} ${p.ms} ms / ${p.aCalls} calls`).join(", ")}`,
    )
    console.log(`B during its redeploy: ${bTally.ok} calls answered, ${bTally.failed} failed ${bTally.errors.join(" | ")}`)
    expect(aTallies.map((t) => t.errors)).toEqual([[], [], [], []])
    expect(aTallies.map((t) => t.failed)).toEqual([0, 0, 0, 0])
    for (const t of aTallies) expect(t.ok).toBeGreaterThan(0)
    for (const p of phases) expect(p.aCalls, `calls to A during '${p.phase}'`).toBeGreaterThan(0)
    expect(bTally.errors).toEqual([])
    expect(bTally.failed).toBe(0)
    expect(bTally.ok).toBeGreaterThan(0)
    await remove(a)
  }, 120_000)

  it("after a SIGKILL of the DTMA and a restart, discovers every MCP server and serves it again, with no duplicate containers", async () => {
    const stdio = nameOf("k-stdio")
    const http = nameOf("k-http")
    const memory = nameOf("k-memory")
    const ids = new Map<string, string>()
    ids.set(stdio, (await deployed(stdio)).containerId)
    ids.set(
      http,
      (await deployed(http, { mcpTransportType: "streamable_http", mcpPort: 3001, baseConfigOverrideJson: { Cmd: ["streamableHttp"], Env: ["PORT=3001"] } }))
        .containerId,
    )
    ids.set(memory, (await deployed(memory, { dockerImageUrl: MEMORY })).containerId)
    const mine = (servers: ReadonlyArray<Discovered>) => new Map(servers.filter((s) => ids.has(s.instanceName)).map((s) => [s.instanceName, s]))
    const discovery = async () => mine((await dtma.call("GET", "/mcp-servers/discovery")).body.data.servers)
    const before = await discovery()
    expect([...before.keys()].sort()).toEqual([...ids.keys()].sort())

    const port = Number(new URL(dtma.url).port)
    await dtma.kill("SIGKILL")
    const restartedAt = Date.now()
    dtma = await startDtma({ port, stateDir: dtma.stateDir, scope: dtma.scope })
    console.log(`new DTMA answering /health ${Date.now() - restartedAt} ms after the SIGKILL`)

    const after = await discovery()
    expect([...after.keys()].sort()).toEqual([...ids.keys()].sort())
    for (const [name, entry] of after) {
      expect(entry.healthStatus, `health of ${name}`).toBe("healthy")
      expect(entry.capabilities?.tools, `tools of ${name}`).toEqual(before.get(name)?.capabilities?.tools)
      expect(entry.capabilities?.tools.length, `tool count of ${name}`).toBeGreaterThan(0)
    }
    console.log(
      `after the restart: ` +
        [...after.values()].map((e) => `${e.instanceName.slice(run.length + 1)} ${e.healthStatus} ${e.capabilities?.tools.length} tools`).join(", "),
    )

    await echo(await client(stdio), "stdio after the DTMA restart")
    await echo(await client(http), "streamable_http after the DTMA restart")
    const mem = await client(memory)
    const entity = { name: `${run}-entity`, entityType: "test", observations: ["seen after a SIGKILL of the DTMA"] }
    const created = await mem.callTool({ name: "create_entities", arguments: { entities: [entity] } })
    expect(created.isError ?? false, `create_entities: ${textOf(created)}`).toBe(false)
    const graph = JSON.parse(textOf(await mem.callTool({ name: "read_graph", arguments: {} }))) as { entities: ReadonlyArray<unknown> }
    expect(graph.entities).toContainEqual(expect.objectContaining(entity))

    const managed = (await docker("ps", "-a", "--no-trunc", "--filter", "label=dtma.managed", "--format", '{{.ID}} {{.Label "dtma.name"}}'))
      .split("\n")
      .map((line) => line.split(" "))
      .filter(([, name]) => name !== undefined && ids.has(name))
    expect(new Map(managed.map(([id, name]) => [name, id]))).toEqual(ids)
    expect(managed).toHaveLength(ids.size)
  }, 120_000)
})
