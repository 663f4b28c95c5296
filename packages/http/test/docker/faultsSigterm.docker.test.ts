import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { afterAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { clientOf, deployBody, deployed, detail, misbehaving, timed } from "../support/faultSupport.ts"
import { containersNamed, echo, removeContainersNamed, sleep, textOf, waitFor } from "../support/mcpClient.ts"

// SIGTERM of the DTMA: calls in flight finish, new ones are refused with a 503 saying why, open
// event streams are ended (not waited for), the process exits within its grace period (10 s), and
// the containers keep running for the next DTMA, which adopts them as they are.

const run = `term${Date.now().toString(36)}`
const GRACE_MS = 10_000
const names = [`${run}-slow`, `${run}-other`]
let dtma: DtmaProcess | undefined
const clients: Array<Client> = []

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
  await dtma?.kill("SIGKILL")
  await removeContainersNamed(names)
})

describe("a SIGTERM of the DTMA", () => {
  it("drains calls in flight, refuses new ones with 503, exits within the grace period and leaves its servers running for the next DTMA to adopt", async () => {
    dtma = await startDtma()
    const first = dtma
    const [slow, other] = names as [string, string]
    const ids = new Map<string, string>()
    ids.set(slow, (await deployed(first, deployBody(slow))).containerId)
    ids.set(other, (await deployed(first, misbehaving(other, "ok"))).containerId)
    const slowClient = await clientOf(first, slow)
    const otherClient = await clientOf(first, other)
    clients.push(slowClient, otherClient)
    await echo(otherClient, "before the SIGTERM")

    // Two calls in flight on the slow server (3 s each), and the clients' listening streams open.
    const started = Date.now()
    const longCall = () => timed(() => slowClient.callTool({ name: "trigger-long-running-operation", arguments: { duration: 3, steps: 3 } }))
    const inFlight = [longCall(), longCall()]
    await sleep(500)

    const termAt = Date.now()
    const exited = first.kill("SIGTERM").then(() => Date.now())
    await sleep(200)
    const refusedCall = await timed(() => echo(otherClient, "during the drain"))
    const refusedApi = await first.call("GET", "/mcp-servers").catch((e: unknown) => ({ status: 0, body: String(e) }))
    const calls = await Promise.all(inFlight)
    const exitAt = await exited
    console.log(
      `SIGTERM ${termAt - started} ms into two 3 s calls: they ended ${calls.map((c) => `${started + c.ms - termAt} ms`).join(" and ")} after it ` +
        `(${calls.map((c) => c.error ?? textOf(c.value)).join(" | ")}); ` +
        `the process exited ${exitAt - termAt} ms after the SIGTERM (grace ${GRACE_MS} ms)`,
    )
    console.log(
      `during the drain: a new call failed after ${refusedCall.ms} ms (${refusedCall.error}); ` +
        `GET /mcp-servers answered ${refusedApi.status} ${JSON.stringify(refusedApi.body)}`,
    )
    for (const call of calls) expect(textOf(call.value)).toBe("Long running operation completed. Duration: 3 seconds, Steps: 3.")
    expect(refusedCall.error).toContain("The DTMA is shutting down; retry shortly.")
    expect(refusedApi).toMatchObject({ status: 503, body: { success: false, code: "shutting_down" } })
    // It waited for the calls, and not for the open event streams.
    expect(exitAt).toBeGreaterThanOrEqual(Math.max(...calls.map((c) => started + c.ms)))
    expect(exitAt - termAt).toBeLessThan(GRACE_MS)
    expect(first.output()).toContain("shutting down: new requests are refused while calls in flight finish")
    expect(first.output()).not.toContain("calls still in flight")

    for (const name of names) expect(await containersNamed(name)).toEqual([{ id: ids.get(name), state: "running" }])

    const adoptedAt = Date.now()
    dtma = await startDtma({ port: Number(new URL(first.url).port), stateDir: first.stateDir, scope: first.scope })
    const next = dtma
    for (const name of names) {
      const view = await waitFor(
        `${name} healthy under the new DTMA`,
        async () => {
          const v = await detail(next, name)
          return v.healthStatus === "healthy" ? v : undefined
        },
        30_000,
      )
      expect(view.container).toMatchObject({ id: ids.get(name), state: "running" })
      expect(view.restartCount).toBe(0)
    }
    console.log(`new DTMA: both servers adopted healthy ${Date.now() - adoptedAt} ms after it was started, same containers`)
    const again = await clientOf(next, other)
    clients.push(again)
    await echo(again, "after the adoption")
    for (const name of names) expect((await next.call("DELETE", `/mcp-servers/${name}`)).status).toBe(200)
  }, 120_000)
})
