import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { clientOf, deployed, detail, historySince, MISBEHAVING, misbehaving, timed } from "../support/faultSupport.ts"
import { echo, echoLoop, waitFor } from "../support/mcpClient.ts"
import { privateDockerd, type PrivateDockerd } from "../support/privateDockerd.ts"

// A restart of the Docker daemon. Other tests share the machine's daemon, so this one runs a daemon
// of its own (no live restore: its containers stop with it) and points a DTMA at it.

const run = `dmn${Date.now().toString(36)}`
let daemon: PrivateDockerd
let dtma: DtmaProcess | undefined
const clients: Array<Client> = []

beforeAll(async () => {
  daemon = privateDockerd(run)
  await daemon.start()
  await daemon.loadImage(MISBEHAVING)
  dtma = await startDtma({
    env: { DOCKER_HOST: daemon.host, DTMA_MCP_PING_INTERVAL_MS: "500", DTMA_MCP_PING_MAX_INTERVAL_MS: "1000", DTMA_MCP_PING_TIMEOUT_MS: "1000" },
  })
}, 120_000)

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
  await dtma?.kill("SIGKILL")
  await daemon?.destroy()
}, 60_000)

describe("a restart of the Docker daemon", () => {
  it("keeps the API answering while the daemon is down, then restarts the servers it stopped, with the same containers, and follows events again", async () => {
    const d = dtma!
    const names = [`${run}-a`, `${run}-b`]
    const ids = new Map<string, string>()
    for (const name of names) ids.set(name, (await deployed(d, misbehaving(name, "ok"))).containerId)
    const sessions = await Promise.all(names.map((name) => clientOf(d, name)))
    clients.push(...sessions)
    for (const [i, c] of sessions.entries()) await echo(c, `before the restart ${i}`)
    const loop = echoLoop(sessions[0]!, "across the daemon restart")

    const stoppingAt = Date.now()
    await daemon.stop()
    const downAt = Date.now()
    // With the daemon down: the in-memory views answer; what needs Docker says so, quickly.
    const view = await timed(() => detail(d, names[0]!))
    const status = await timed(() => d.call("GET", "/tools/status"))
    const deploy = await timed(() => d.call("POST", "/mcp-servers", misbehaving(`${run}-during`, "ok")))
    const health = await d.call("GET", "/health")
    console.log(
      `daemon stopped in ${downAt - stoppingAt} ms; ` +
        `while down: GET /mcp-servers/:name ${view.ms} ms (${view.value?.healthStatus}, ${view.value?.lastError}); ` +
        `GET /tools/status ${status.value?.status} in ${status.ms} ms; ` +
        `deploy ${deploy.value?.status} in ${deploy.ms} ms (${JSON.stringify(deploy.value?.body)})`,
    )
    expect(health).toMatchObject({ status: 200, body: "OK" })
    expect(view.value?.healthStatus).toBe("unhealthy")
    expect(status.value?.status).toBe(503)
    expect(deploy.value?.status).toBe(503)
    expect(deploy.value?.body).toMatchObject({ success: false })

    await daemon.start()
    const upAt = Date.now()
    const back = await Promise.all(
      names.map((name) =>
        waitFor(
          `${name} healthy again`,
          async () => {
            const v = await detail(d, name)
            return v.healthStatus === "healthy" && v.container.state === "running" && Date.parse(v.healthHistory.at(-1)!.at) > downAt
              ? { name, v, at: Date.now() }
              : undefined
          },
          60_000,
          100,
        ),
      ),
    )
    const tally = await loop.stop()
    for (const { name, v, at } of back) {
      console.log(
        `${name.slice(run.length + 1)}: healthy ${at - upAt} ms after the daemon answered again; restartCount ${v.restartCount}; ` +
          `history since the stop:\n  ${historySince(v, stoppingAt)}`,
      )
      expect(v.container.id).toBe(ids.get(name))
      expect(v.restartCount).toBeGreaterThanOrEqual(1)
    }
    const lastFailure = Math.max(0, ...tally.failedAt)
    console.log(
      `calls to a, back to back: ${tally.ok} answered, ${tally.failed} failed, ` +
        `the last failure ${lastFailure === 0 ? "-" : `${lastFailure - upAt} ms after the daemon was back`}; ${tally.errors.slice(0, 3).join(" | ")}`,
    )
    // Calls failed only while the daemon was down or its servers were coming back.
    for (const at of tally.failedAt) expect(at).toBeLessThanOrEqual(Math.max(...back.map((b) => b.at)))
    expect(tally.ok).toBeGreaterThan(0)
    // The client sessions opened before the restart work again; nothing is duplicated or orphaned.
    for (const [i, c] of sessions.entries()) await echo(c, `after the restart ${i}`)
    const listed = (await daemon.docker("ps", "-a", "--no-trunc", "--format", '{{.ID}} {{.State}} {{.Label "dtma.name"}}')).split("\n").sort()
    expect(listed).toEqual(names.map((n) => `${ids.get(n)} running ${n}`).sort())

    // The event feed was reconnected: a kill now is seen and the server restarted.
    const killedAt = Date.now()
    await daemon.docker("kill", ids.get(names[1]!)!)
    const restarted = await waitFor(
      "the killed server restarted",
      async () => {
        const v = await detail(d, names[1]!)
        return v.healthStatus === "healthy" && v.healthHistory.some((h) => Date.parse(h.at) >= killedAt && h.detail?.includes("exited with code 137") === true)
          ? v
          : undefined
      },
      30_000,
      50,
    )
    const died = restarted.healthHistory.find((h) => Date.parse(h.at) >= killedAt && h.detail?.includes("exited with code 137") === true)!
    console.log(`after the restart, docker kill → die event seen in ${Date.parse(died.at) - killedAt} ms, healthy again in ${Date.now() - killedAt} ms`)
    await echo(sessions[1]!, "after the kill")

    for (const name of names) expect((await d.call("DELETE", `/mcp-servers/${name}`)).status).toBe(200)
    expect(await daemon.docker("ps", "-aq")).toBe("")
  }, 180_000)
})
