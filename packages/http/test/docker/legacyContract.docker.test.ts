// The items of the legacy contract (../../../../shared/spec/legacy-dtma-api.md) that only a real
// Docker engine can show: the old bugs were Docker's answers passed on as 500s, and containers left
// behind.
import { execFileSync, spawnSync } from "node:child_process"
import { once } from "node:events"
import { createServer as createHttpServer, type Server as HttpServer } from "node:http"
import { createServer, type Server } from "node:net"
import type { AddressInfo } from "node:net"
import { afterAll, describe, expect, it } from "vitest"
import { freePort, startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"

const IMAGE = "dtma/example-http:1"
const RUN = `legacy${Date.now().toString(36)}`

const docker = (...args: Array<string>): string => execFileSync("docker", args, { encoding: "utf8" }).trim()

/** Every container of this run, managed or not: by container name, or by the instance name label. */
const containersOfRun = (): Array<string> => {
  const byName = docker("ps", "-aq", "--filter", `name=${RUN}`).split("\n")
  const byLabel = docker("ps", "-a", "--filter", "label=dtma.managed", "--format", '{{.ID}} {{.Label "dtma.name"}}')
    .split("\n")
    .filter((line) => line.includes(RUN))
    .map((line) => line.split(" ")[0] ?? "")
  return [...new Set([...byName, ...byLabel])].filter((id) => id !== "")
}

/** Managed containers whose instance name is `name`. */
const managedNamed = (name: string): Array<string> =>
  docker("ps", "-a", "--filter", "label=dtma.managed", "--format", '{{.ID}}\t{{.Label "dtma.name"}}')
    .split("\n")
    .map((line) => line.split("\t"))
    .filter(([, label]) => label === name)
    .map(([id]) => id ?? "")

const listen = (port: number, host: string): Promise<Server> =>
  new Promise((resolve, reject) => {
    const server = createServer().once("error", reject)
    server.listen(port, host, () => resolve(server))
  })

const getJson = async (url: string, withinMs: number): Promise<unknown> => {
  const deadline = Date.now() + withinMs
  for (;;) {
    try {
      return await (await fetch(url, { signal: AbortSignal.timeout(1_000) })).json()
    } catch (error) {
      // docker-proxy accepts before the server in the container listens.
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

const deployBody = (name: string, baseConfigOverrideJson?: unknown) => ({
  dockerImageUrl: IMAGE,
  instanceNameOnToolbox: name,
  accountToolInstanceId: `ati-${name}`,
  ...(baseConfigOverrideJson === undefined ? {} : { baseConfigOverrideJson }),
})

describe("the legacy contract against a real Docker engine", () => {
  let dtma: DtmaProcess | undefined
  const started: Array<DtmaProcess> = []
  const start = async (options: Parameters<typeof startDtma>[0] = {}) => {
    // One scope for the file: a later DTMA adopts what an earlier one deployed.
    const child = await startDtma({ scope: RUN, ...options })
    started.push(child)
    return child
  }

  afterAll(async () => {
    for (const id of containersOfRun()) spawnSync("docker", ["rm", "-f", id])
    for (const child of started) await child.kill("SIGKILL")
  })

  it("answers a name an unmanaged container holds with a 409, leaves that container alone, and never lists it", async () => {
    dtma = await start()
    const name = `${RUN}-foreign`
    const foreign = docker("create", "--name", name, IMAGE)
    const unlabelled = docker("create", "--name", `${RUN}-dtma`, "--label", "dtma.managed=false", IMAGE)
    const res = await dtma.call("POST", "/tools", deployBody(name))
    expect(res).toEqual({
      status: 409,
      body: { success: false, error: `Instance name '${name}' maps to container name '${name}', which a container not managed by this DTMA already uses.` },
    })
    expect(docker("inspect", "-f", "{{.Id}}", name)).toBe(foreign)
    expect(managedNamed(name)).toEqual([])
    for (const path of ["/status", "/tools/status"]) {
      const status = await dtma.call("GET", path)
      expect(status.status).toBe(200)
      const ids = status.body.tool_instances.map((t: { container_id: string }) => t.container_id)
      expect(ids).not.toContain(foreign)
      expect(ids).not.toContain(unlabelled)
      for (const entry of status.body.tool_instances) {
        // "uuid-or-null": instances deployed without one (by the domain library) list null.
        expect(entry.account_tool_instance_id === null || typeof entry.account_tool_instance_id === "string").toBe(true)
        expect(entry.id).toBe(entry.container_id)
      }
    }
    expect((await dtma.call("POST", `/tools/${name}/stop`)).status).toBe(404)
    expect((await dtma.call("DELETE", `/tools/${name}`)).status).toBe(404)
    expect(docker("inspect", "-f", "{{.Id}}", name)).toBe(foreign)
  })

  it("answers a host port another process holds with a 409, leaves no container, and deploys on the retry once the port is free", async () => {
    dtma ??= await start()
    const name = `${RUN} busy port`
    const holder = await listen(0, "127.0.0.1")
    const hostPort = (holder.address() as AddressInfo).port
    const body = deployBody(name, { HostConfig: { PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: String(hostPort) }] } } })
    try {
      const res = await dtma.call("POST", "/tools", body)
      expect(res).toEqual({ status: 409, body: { success: false, error: `Port conflict: Requested HostPort ${hostPort} is already in use on the host.` } })
      expect(managedNamed(name)).toEqual([])
    } finally {
      holder.close()
      await once(holder, "close")
    }
    const retry = await dtma.call("POST", "/tools", body)
    expect(retry.status).toBe(201)
    expect(retry.body.data.ports).toEqual({ "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: String(hostPort) }] })
    expect(await getJson(`http://127.0.0.1:${hostPort}/`, 15_000)).toMatchObject({ ok: true })
    expect((await dtma.call("DELETE", `/tools/${encodeURIComponent(name)}`)).status).toBe(200)
    expect(managedNamed(name)).toEqual([])
  })

  it("refuses the DTMA's own port with a 409 before Docker is asked", async () => {
    dtma ??= await start()
    const own = new URL(dtma.url).port
    const name = `${RUN}-own-port`
    const res = await dtma.call("POST", "/tools", deployBody(name, { portMappings: [{ containerPort: 8080, hostPort: Number(own) }] }))
    expect(res).toEqual({ status: 409, body: { success: false, error: `Port conflict: Requested HostPort ${own} is the DTMA's own port.` } })
    expect(managedNamed(name)).toEqual([])
  })

  it("deploys, stops, starts and removes the name with spaces the old agent answered with a 500", async () => {
    dtma ??= await start()
    const name = `Context7 MCP Server-${RUN}`
    const deployed = await dtma.call("POST", "/tools", deployBody(name))
    expect(deployed.status).toBe(201)
    expect(deployed.body).toMatchObject({ success: true, message: `Tool '${name}' deployed successfully.`, data: { instance_name_on_toolbox: name } })
    const [id] = managedNamed(name)
    expect(docker("inspect", "-f", "{{.Name}}", id!)).toMatch(/^\/[a-zA-Z0-9][a-zA-Z0-9_.-]*$/)
    expect(docker("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", id!)).toBe("unless-stopped")
    expect(await dtma.call("POST", `/tools/${name}/stop`)).toMatchObject({ status: 200, body: { message: `Tool instance '${name}' stopped successfully.` } })
    expect(await dtma.call("POST", `/tools/${encodeURIComponent(name)}/start`)).toMatchObject({
      status: 200,
      body: { message: `Tool instance '${name}' started successfully.`, data: { state: { Status: "running", Running: true } } },
    })
    expect(await dtma.call("POST", `/tools/${encodeURIComponent(name)}/start`)).toMatchObject({
      status: 200,
      body: { message: `Tool instance '${name}' is already running.` },
    })
    expect(await dtma.call("DELETE", `/tools/${encodeURIComponent(name)}`)).toEqual({
      status: 200,
      body: { success: true, message: `Tool instance '${name}' removed successfully.` },
    })
    expect(managedNamed(name)).toEqual([])
  })

  it("honours Env, environmentVariables and portMappings from the override, and /status shows none of the values", async () => {
    dtma ??= await start()
    const name = `${RUN}-override`
    const hostPort = await freePort()
    const secret = `secret-${RUN}`
    const res = await dtma.call(
      "POST",
      "/tools",
      deployBody(name, {
        Env: ["TOOL_FROM_ENV=plain"],
        environmentVariables: { TOOL_FROM_OBJECT: secret },
        portMappings: [{ containerPort: 8080, hostPort }],
      }),
    )
    expect(res.status).toBe(201)
    expect(res.body.data.ports).toEqual({ "8080/tcp": [{ HostIp: "0.0.0.0", HostPort: String(hostPort) }] })
    const answer = (await getJson(`http://127.0.0.1:${hostPort}/`, 15_000)) as { envNames: Array<string> }
    expect([...answer.envNames].sort()).toEqual(["TOOL_FROM_ENV", "TOOL_FROM_OBJECT"])
    for (const path of ["/status", "/tools/status"]) {
      const status = await dtma.call("GET", path)
      const text = JSON.stringify(status.body)
      expect(text).not.toContain(secret)
      expect(text).not.toContain(dtma.token!)
      expect(status.body.tool_instances.find((t: { instance_name_on_toolbox: string }) => t.instance_name_on_toolbox === name)).toMatchObject({
        account_tool_instance_id: `ati-${name}`,
        status: "running",
        ports: [expect.objectContaining({ PrivatePort: 8080, PublicPort: hostPort, private_port: 8080, public_port: hostPort })],
      })
    }
  })

  it("answers an environment value Docker cannot start a process with as a 4xx that never echoes the value, leaving no container", async () => {
    dtma ??= await start()
    const name = `${RUN}-nul-env`
    const secret = `nul-secret-${RUN}`
    const res = await dtma.call("POST", "/tools", deployBody(name, { Env: [`TOOL_TOKEN=${secret}\u0000tail`] }))
    // Soft: each of these is its own finding.
    expect.soft(JSON.stringify(res.body), "the answer").not.toContain(secret)
    expect.soft(dtma.output(), "the log").not.toContain(secret)
    expect.soft(res.status >= 400 && res.status < 500, `status ${res.status} is a 4xx`).toBe(true)
    expect.soft(managedNamed(name), "containers left behind").toEqual([])
  })

  it("heartbeats at start to {base}/heartbeat with DTMA_BEARER_TOKEN, every entry carrying its id, retrying a backend that was down", async () => {
    // A tool deployed by one DTMA, reported by the next: the first heartbeat goes out at start.
    const first = dtma ?? (await start())
    const name = `${RUN}-heartbeat`
    const deployed = await first.call("POST", "/tools", deployBody(name))
    expect(deployed.status).toBe(201)
    await first.kill("SIGKILL")
    dtma = undefined

    const requests: Array<{
      url: string
      authorization: string | undefined
      body: { tool_statuses: Array<Record<string, unknown>> } & Record<string, unknown>
    }> = []
    let answered = 0
    const backend: HttpServer = createHttpServer((req, res) => {
      let text = ""
      req.on("data", (chunk: Buffer) => (text += chunk.toString()))
      req.on("end", () => {
        requests.push({ url: req.url ?? "", authorization: req.headers.authorization, body: JSON.parse(text) })
        res.writeHead(answered++ === 0 ? 503 : 204).end()
      })
    })
    backend.listen(0, "127.0.0.1")
    await once(backend, "listening")
    try {
      const reporting = await start({
        token: null,
        env: { DTMA_BEARER_TOKEN: `bearer-${RUN}`, AGENTOPIA_API_BASE_URL: `http://127.0.0.1:${(backend.address() as AddressInfo).port}/functions/v1` },
      })
      const deadline = Date.now() + 20_000
      while (requests.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
      expect(requests.map((r) => [r.url, r.authorization])).toEqual([
        ["/functions/v1/heartbeat", `Bearer bearer-${RUN}`],
        ["/functions/v1/heartbeat", `Bearer bearer-${RUN}`],
      ])
      const body = requests[1]!.body
      expect(body.dtma_version).toBe("0.1.0")
      expect(body.system_status).toMatchObject({ cpu_load_percent: expect.any(Number), memory: expect.any(Object), disk: expect.any(Object) })
      for (const entry of body.tool_statuses) {
        expect(entry.account_tool_instance_id).toEqual(expect.stringMatching(/\S/))
        expect(["running", "stopped", "error", "deploying"]).toContain(entry.status_on_toolbox)
      }
      expect(body.tool_statuses.find((t) => t.account_tool_instance_id === `ati-${name}`)).toMatchObject({
        status_on_toolbox: "running",
        runtime_details: { container_id: deployed.body.data.container_id, image: IMAGE, started_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      })
      // DTMA_BEARER_TOKEN is accepted inbound too, and the adopted instance is still managed.
      const stop = await fetch(`${reporting.url}/tools/${name}/stop`, { method: "POST", headers: { authorization: `Bearer bearer-${RUN}` } })
      expect(stop.status).toBe(200)
      expect(reporting.output()).not.toContain(`bearer-${RUN}`)
    } finally {
      backend.closeAllConnections()
      backend.close()
    }
  })
})
