import { execFileSync } from "node:child_process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"

const EVERYTHING = "dtma/mcp-everything:2026.8.31"
const TOOL = "dtma/example-http:1"
const run = `sec${Date.now().toString(36)}`
const SOCKET = "/var/run/docker.sock"
const everyInterface = (port: number) => ({ [`${port}/tcp`]: [{ HostIp: "0.0.0.0", HostPort: "" }] })

interface Inspected {
  readonly Id: string
  readonly Config: { readonly Labels: Readonly<Record<string, string>> }
  readonly Mounts: ReadonlyArray<{ readonly Type: string; readonly Source: string; readonly RW: boolean }>
  // Fields read in assertions.
  // oxlint-disable-next-line typescript/no-explicit-any
  readonly HostConfig: any
  readonly NetworkSettings: { readonly Ports: Readonly<Record<string, ReadonlyArray<{ readonly HostIp: string; readonly HostPort: string }> | null>> }
}

/** `docker inspect` of every container of the DTMA's scope, stopped ones included. */
const inspectScope = (scope: string): ReadonlyArray<Inspected> => {
  const ids = execFileSync("docker", ["ps", "-aq", "--no-trunc", "--filter", `label=dtma.managed=${scope}`], { encoding: "utf8" })
    .split("\n")
    .filter((id) => id !== "")
  return ids.length === 0 ? [] : (JSON.parse(execFileSync("docker", ["inspect", ...ids], { encoding: "utf8" })) as Array<Inspected>)
}
const kindOf = (c: Inspected) => c.Config.Labels["dtma.kind"]
const nameOf = (c: Inspected) => c.Config.Labels["dtma.name"]

/** Set-up that did not go as planned stops the suite, saying what answered. */
const answered = (res: { status: number; body: unknown }, status: number, what: string): void => {
  if (res.status !== status) throw new Error(`${what} answered ${res.status}, not ${status}: ${JSON.stringify(res.body)}`)
}

let dtma: DtmaProcess
let containers: ReadonlyArray<Inspected>
beforeAll(async () => {
  dtma = await startDtma()
  const mcp = (name: string, extra: Record<string, unknown>) =>
    dtma.call("POST", "/mcp-servers", { dockerImageUrl: EVERYTHING, instanceNameOnToolbox: `${run}-${name}`, accountToolInstanceId: `ati-${name}`, ...extra })
  answered(await mcp("stdio", { mcpTransportType: "stdio" }), 201, "the stdio deploy")
  const http = await mcp("http", {
    mcpTransportType: "streamable_http",
    mcpPort: 3001,
    baseConfigOverrideJson: { Cmd: ["streamableHttp"], Env: ["PORT=3001"], HostConfig: { PortBindings: { ...everyInterface(3001), ...everyInterface(9000) } } },
  })
  answered(http, 201, "the streamable_http deploy")
  // Asking for the Docker socket: an MCP server is refused; the legacy tool route never reads the key.
  const socket = { Binds: [`${SOCKET}:${SOCKET}`], Privileged: true }
  answered(await mcp("socket", { mcpTransportType: "stdio", baseConfigOverrideJson: { HostConfig: socket } }), 400, "the deploy asking for the socket")
  const tool = await dtma.call("POST", "/tools", {
    dockerImageUrl: TOOL,
    instanceNameOnToolbox: `${run}-tool`,
    accountToolInstanceId: "ati-tool",
    baseConfigOverrideJson: {
      HostConfig: { ...socket, PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } },
      Mounts: [{ Type: "bind", Source: SOCKET, Target: SOCKET }],
    },
  })
  answered(tool, 201, "the tool deploy")
  containers = inspectScope(dtma.scope)
}, 180_000)
afterAll(async () => {
  for (const c of inspectScope(dtma.scope)) execFileSync("docker", ["rm", "-f", c.Id])
  await dtma.kill("SIGTERM")
})

describe("containers the DTMA deploys, as docker inspect shows them", () => {
  it("runs every MCP server locked down, per docker inspect: no capabilities or new privileges, read-only root, memory, CPU and PID limits, an init", () => {
    const servers = containers.filter((c) => kindOf(c) === "mcp_server")
    expect(servers.map(nameOf).sort()).toEqual([`${run}-http`, `${run}-stdio`])
    for (const c of servers) {
      expect(c.HostConfig).toMatchObject({
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        ReadonlyRootfs: true,
        Memory: 512 * 1024 * 1024,
        NanoCpus: 1_000_000_000,
        PidsLimit: 256,
        Init: true,
        Privileged: false,
      })
      expect(c.HostConfig.CapAdd ?? []).toEqual([])
    }
    expect(servers.find((c) => nameOf(c) === `${run}-stdio`)?.HostConfig.NetworkMode).toBe("none")
  })

  it("never mounts the Docker socket, or any host path, into a container it deploys, whatever the request asks", () => {
    expect(containers.map(nameOf).sort()).toEqual([`${run}-http`, `${run}-stdio`, `${run}-tool`])
    for (const c of containers) {
      expect(
        c.Mounts.filter((m) => m.Type === "bind"),
        `${nameOf(c)}`,
      ).toEqual([])
      expect(
        c.Mounts.some((m) => m.Source.includes("docker.sock")),
        `${nameOf(c)}`,
      ).toBe(false)
      expect(c.HostConfig.Binds ?? [], `${nameOf(c)}`).toEqual([])
      expect(c.HostConfig.Privileged, `${nameOf(c)}`).toBe(false)
    }
  })

  it("publishes a network MCP server's ports on 127.0.0.1 only, even when the request asks for every interface", () => {
    const http = containers.find((c) => nameOf(c) === `${run}-http`)!
    const bindings = Object.values(http.HostConfig.PortBindings as Record<string, Array<{ HostIp: string }>>).flat()
    expect(bindings.length).toBeGreaterThanOrEqual(2)
    for (const b of bindings) expect(b.HostIp).toBe("127.0.0.1")
    const published = Object.values(http.NetworkSettings.Ports).flatMap((p) => p ?? [])
    expect(published.length).toBeGreaterThanOrEqual(2)
    for (const p of published) expect(p.HostIp).toBe("127.0.0.1")
  })
})
