import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { clientOf, deployed, detail, historySince, misbehaving, startBystander, timed } from "../support/faultSupport.ts"
import { containersNamed, docker, echo, removeContainersNamed, waitFor } from "../support/mcpClient.ts"

// Faults of a server that stops answering: `docker pause` (a hung process) and a server that never
// answers `initialize`. A healthy bystander on the same DTMA is called throughout: it must lose nothing.

const run = `hung${Date.now().toString(36)}`
const START_TIMEOUT_MS = 3_000
const PING_TIMEOUT_MS = 1_000
let dtma: DtmaProcess
const names = new Set<string>()
const clients: Array<Client> = []

const nameOf = (suffix: string): string => {
  const name = `${run}-${suffix}`
  names.add(name)
  return name
}

beforeAll(async () => {
  dtma = await startDtma({
    env: {
      DTMA_MCP_START_TIMEOUT_MS: String(START_TIMEOUT_MS),
      DTMA_MCP_PING_INTERVAL_MS: "500",
      DTMA_MCP_PING_MAX_INTERVAL_MS: "1000",
      DTMA_MCP_PING_TIMEOUT_MS: String(PING_TIMEOUT_MS),
    },
  })
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
  await docker("unpause", ...(await Promise.all([...names].map(async (n) => (await containersNamed(n)).map((c) => c.id)))).flat()).catch(() => undefined)
  await dtma?.kill("SIGKILL")
  await removeContainersNamed(names)
})

describe("a server that stops answering, on a real engine", () => {
  it("finds a paused server by ping timeout, fails its calls fast with a JSON-RPC error, reconnects once unpaused; the other loses no call", async () => {
    const victim = nameOf("paused")
    const other = nameOf("pause-bystander")
    const { containerId } = await deployed(dtma, misbehaving(victim, "ok"))
    await deployed(dtma, misbehaving(other, "ok"))
    const client = await clientOf(dtma, victim)
    clients.push(client)
    await echo(client, "before the pause")
    const bystander = await startBystander(dtma, other)

    const pausedAt = Date.now()
    await docker("pause", containerId)
    // A call made at once is in flight while the server hangs: it must end, with an error, once the hang is found.
    const inFlight = timed(() => echo(client, "during the pause"))
    const unhealthy = await waitFor(
      "an unhealthy entry after the pause",
      async () => (await detail(dtma, victim)).healthHistory.find((h) => h.status === "unhealthy" && Date.parse(h.at) >= pausedAt),
      30_000,
      50,
    )
    const detectedMs = Date.parse(unhealthy.at) - pausedAt
    const first = await inFlight
    // Found unhealthy, a new call is refused at once with the reason.
    const refused = await timed(() => echo(client, "after the hang was found"))
    const whilePaused = await detail(dtma, victim)
    console.log(`docker pause → unhealthy in ${detectedMs} ms (${unhealthy.detail}); the call in flight failed after ${first.ms} ms: ${first.error}`)
    console.log(`a call once unhealthy failed after ${refused.ms} ms: ${refused.error}`)
    expect(unhealthy.detail).toMatch(/ping/)
    expect(first.error).toMatch(/MCP error/)
    // The proxy answers 503 with the JSON-RPC error; the SDK client quotes the body.
    expect(refused.error).toContain(`"code":-32000,"message":"MCP server '${victim}' is unhealthy and cannot take calls now: the container is paused."`)
    expect(whilePaused).toMatchObject({ healthStatus: "unhealthy", lastError: "the container is paused" })

    const unpausedAt = Date.now()
    await docker("unpause", containerId)
    const healthy = await waitFor(
      "healthy after the unpause",
      async () => {
        const view = await detail(dtma, victim)
        return view.healthStatus === "healthy" ? view : undefined
      },
      30_000,
      50,
    )
    console.log(
      `docker unpause → healthy in ${Date.now() - unpausedAt} ms; restartCount ${healthy.restartCount}; ` +
        `history since the pause:\n  ${historySince(healthy, pausedAt)}`,
    )
    // The process was never ended: the DTMA connected to it again, it did not restart it.
    expect(healthy.container).toMatchObject({ id: containerId, state: "running" })
    expect(healthy.restartCount).toBe(0)
    await echo(client, "after the unpause, the same client session")

    const tally = await bystander.stop()
    console.log(`bystander: ${tally.ok} calls answered, ${tally.failed} failed ${tally.errors.join(" | ")}`)
    expect(tally.errors).toEqual([])
    expect(tally.failed).toBe(0)
    expect(tally.ok).toBeGreaterThan(0)
  }, 120_000)

  it("answers 502 in the start timeout for a server that never answers initialize, citing its stderr, no container left; the other loses no call", async () => {
    const victim = nameOf("mute")
    const other = nameOf("mute-bystander")
    await deployed(dtma, misbehaving(other, "ok"))
    const bystander = await startBystander(dtma, other)

    const started = Date.now()
    const res = await dtma.call("POST", "/mcp-servers", misbehaving(victim, "no-initialize"))
    const ms = Date.now() - started
    console.log(
      `deploy of a server that never answers initialize: ${res.status} after ${ms} ms (start timeout ${START_TIMEOUT_MS} ms): ${JSON.stringify(res.body)}`,
    )
    expect(res.status).toBe(502)
    expect(res.body).toMatchObject({ success: false, code: "mcp_server_not_ready" })
    expect(res.body.error).toMatch(/initialize/)
    expect(res.body.error).toMatch(/Last stderr lines: .*no-initialize: got initialize, not answering/)
    expect(await containersNamed(victim)).toEqual([])
    expect((await dtma.call("GET", `/mcp-servers/${victim}`)).status).toBe(404)

    const tally = await bystander.stop()
    console.log(`bystander: ${tally.ok} calls answered, ${tally.failed} failed ${tally.errors.join(" | ")}`)
    expect(tally.errors).toEqual([])
    expect(tally.failed).toBe(0)
    expect(tally.ok).toBeGreaterThan(0)
  }, 60_000)
})
