import { execFileSync } from "node:child_process"
import { afterAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"

const IMAGE = "dtma/example-http:1"
const run = `e2e${Date.now().toString(36)}`
const names = [`${run}-a`, `${run} with spaces`, `${run}-stopped`]

const managedContainers = (): Array<{ id: string; name: string }> =>
  execFileSync("docker", ["ps", "-a", "--filter", "label=dtma.managed", "--format", '{{.ID}} {{.Label "dtma.name"}}'], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(run))
    .map((line) => ({ id: line.slice(0, line.indexOf(" ")), name: line.slice(line.indexOf(" ") + 1) }))

describe("a DTMA killed with SIGKILL and started again", () => {
  let dtma: DtmaProcess | undefined
  afterAll(async () => {
    for (const c of managedContainers()) execFileSync("docker", ["rm", "-f", c.id])
    await dtma?.kill("SIGKILL")
  })

  it("manages every container it managed before, with nothing lost and no duplicates", async () => {
    dtma = await startDtma()
    const ids = new Map<string, string>()
    for (const [i, name] of names.entries()) {
      const deployed = await dtma.call("POST", "/tools", { dockerImageUrl: IMAGE, instanceNameOnToolbox: name, accountToolInstanceId: `ati-${run}-${i}` })
      expect(deployed).toMatchObject({ status: 201 })
      ids.set(name, deployed.body.data.container_id)
    }
    expect((await dtma.call("POST", `/tools/${encodeURIComponent(names[2]!)}/stop`)).status).toBe(200)
    const port = new URL(dtma.url).port
    await dtma.kill("SIGKILL")

    dtma = await startDtma({ port: Number(port), scope: dtma.scope })
    const status = await dtma.call("GET", "/tools/status")
    const mine = status.body.tool_instances.filter((t: { instance_name_on_toolbox: string }) => t.instance_name_on_toolbox.startsWith(run))
    expect(new Map(mine.map((t: { instance_name_on_toolbox: string; container_id: string }) => [t.instance_name_on_toolbox, t.container_id]))).toEqual(ids)
    expect(mine.find((t: { instance_name_on_toolbox: string }) => t.instance_name_on_toolbox === names[0])).toMatchObject({
      status: "running",
      account_tool_instance_id: `ati-${run}-0`,
    })
    expect(mine.find((t: { instance_name_on_toolbox: string }) => t.instance_name_on_toolbox === names[2])?.status).toBe("exited")

    const started = await dtma.call("POST", `/tools/${encodeURIComponent(names[2]!)}/start`)
    expect(started).toMatchObject({ status: 200, body: { success: true, message: `Tool instance '${names[2]}' started successfully.` } })
    const stopped = await dtma.call("POST", `/tools/${encodeURIComponent(names[1]!)}/stop`)
    expect(stopped).toMatchObject({ status: 200, body: { success: true } })
    const again = await dtma.call("POST", "/tools", { dockerImageUrl: IMAGE, instanceNameOnToolbox: names[0], accountToolInstanceId: "other" })
    expect(again.status).toBe(409)
    expect(managedContainers()).toHaveLength(3)

    for (const name of names) {
      expect(await dtma.call("DELETE", `/tools/${encodeURIComponent(name)}`)).toMatchObject({
        status: 200,
        body: { success: true, message: `Tool instance '${name}' removed successfully.` },
      })
    }
    expect(managedContainers()).toEqual([])
  })
})
