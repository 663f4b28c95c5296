import { once } from "node:events"
import { createServer, type Server } from "node:http"
import { afterAll, describe, expect, it } from "vitest"
import { freePort, startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { deployed, misbehaving, startBystander } from "../support/faultSupport.ts"
import { removeContainersNamed, sleep, waitFor } from "../support/mcpClient.ts"

// The backend goes away (connection refused) for many heartbeat intervals and comes back: the
// heartbeat is retried with backoff and resumes; MCP calls never notice. The heartbeat interval is
// shortened through DTMA_HEARTBEAT_INTERVAL_MS, so "minutes" of outage are a handful of cycles here.

const run = `bkd${Date.now().toString(36)}`
const INTERVAL_MS = 1_500
const OUTAGE_MS = 12_000
const name = `${run}-server`
let dtma: DtmaProcess | undefined

/** One entry of a heartbeat's `tool_statuses`, the parts read here. */
interface ToolStatus {
  readonly account_tool_instance_id: string
  readonly status_on_toolbox: string
  readonly runtime_details: { readonly health_status?: string }
}

/** A stand-in for the backend's heartbeat function that can be taken down and brought back on its port. */
const backend = (port: number) => {
  const beats: Array<{ at: number; tools: ReadonlyArray<ToolStatus> }> = []
  let server: Server | null = null
  const up = async () => {
    server = createServer((req, res) => {
      let body = ""
      req.on("data", (c: Buffer) => (body += c.toString()))
      req.on("end", () => {
        if (req.url?.endsWith("/heartbeat") === true) beats.push({ at: Date.now(), tools: (JSON.parse(body) as { tool_statuses?: [] }).tool_statuses ?? [] })
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(port, "127.0.0.1")
    await once(server, "listening")
  }
  const down = async () => {
    const s = server
    server = null
    if (s === null) return
    const closed = once(s, "close")
    s.close()
    s.closeAllConnections()
    await closed
  }
  return { port, beats, up, down }
}

let api: ReturnType<typeof backend> | undefined

afterAll(async () => {
  await dtma?.kill("SIGKILL")
  await api?.down()
  await removeContainersNamed([name])
})

describe("the backend down for a while", () => {
  it("retries the heartbeat with backoff while the backend refuses connections, resumes once it is back, and MCP calls never fail meanwhile", async () => {
    api = backend(await freePort())
    await api.up()
    dtma = await startDtma({
      env: {
        AGENTOPIA_API_BASE_URL: `http://127.0.0.1:${api.port}/functions/v1`,
        DTMA_BEARER_TOKEN: "e2e-outbound-token",
        DTMA_HEARTBEAT_INTERVAL_MS: String(INTERVAL_MS),
      },
    })
    const d = dtma
    await deployed(d, misbehaving(name, "ok"))
    const beats = api.beats
    await waitFor(
      "two heartbeats reporting the server",
      async () => (beats.filter((b) => b.tools.some((t) => t.account_tool_instance_id === `ati-${name}`)).length >= 2 ? true : undefined),
      20_000,
      50,
    )
    const bystander = await startBystander(d, name)

    const downAt = Date.now()
    const before = beats.length
    await api.down()
    await sleep(OUTAGE_MS)
    const failedCycles = d
      .output()
      .split("\n")
      .filter((l) => l.includes('"msg":"heartbeat failed"') && Date.parse(JSON.parse(l).time as string) >= downAt)
    const upAt = Date.now()
    await api.up()
    const resumed = await waitFor("a heartbeat after the outage", async () => beats.slice(before).find((b) => b.at >= upAt), 30_000, 20)
    await waitFor("heartbeats going on at their pace", async () => (beats.filter((b) => b.at >= upAt).length >= 3 ? true : undefined), 20_000, 50)
    const tally = await bystander.stop()

    const reasons = [...new Set(failedCycles.map((l) => String(JSON.parse(l).reason)))]
    console.log(
      `backend down ${upAt - downAt} ms (${Math.round((upAt - downAt) / INTERVAL_MS)} intervals of ${INTERVAL_MS} ms): ` +
        `${failedCycles.length} heartbeat cycles failed after their retries (${reasons.join(" | ")}); ` +
        `${beats.slice(before).filter((b) => b.at < upAt).length} heartbeats arrived meanwhile; ` +
        `the first one after it came back arrived ${resumed.at - upAt} ms later; then ${beats.filter((b) => b.at >= upAt).length} in ${Date.now() - upAt} ms`,
    )
    console.log(`MCP calls during the outage: ${tally.ok} answered, ${tally.failed} failed ${tally.errors.join(" | ")}`)
    expect(failedCycles.length).toBeGreaterThanOrEqual(2)
    expect(reasons.join(" ")).toMatch(/ECONNREFUSED|fetch failed/)
    expect(resumed.tools.find((t) => t.account_tool_instance_id === `ati-${name}`)).toMatchObject({
      status_on_toolbox: "running",
      runtime_details: { health_status: "healthy" },
    })
    expect(tally.errors).toEqual([])
    expect(tally.failed).toBe(0)
    expect(tally.ok).toBeGreaterThan(0)
    // The token never shows in what the DTMA logged about the outage.
    expect(d.output()).not.toContain("e2e-outbound-token")
    expect((await d.call("DELETE", `/mcp-servers/${name}`)).status).toBe(200)
  }, 120_000)
})
