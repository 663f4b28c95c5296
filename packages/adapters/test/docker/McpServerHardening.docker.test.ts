import { afterAll, describe, expect, it } from "vitest"
import { run } from "@dtma/testing"
import { docker, mcpSpec, removeAll, runPrefix, runtime } from "../mcp/mcpContainers.ts"

const RUN = runPrefix("hardening")

describe("an MCP server's container on the local Docker engine", () => {
  afterAll(() => removeAll(RUN))

  it("runs a stdio server locked down: no capabilities, no new privileges, read-only root, limits, no network, no restart", async () => {
    const { containerId } = await run(runtime.create(mcpSpec(RUN, "stdio")))
    await run(runtime.start(containerId))
    const { HostConfig, Config, State } = await docker.getContainer(containerId).inspect()
    expect(State.Status).toBe("running")
    expect(HostConfig).toMatchObject({
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw,noexec,nosuid,size=64m" },
      Memory: 512 * 1024 * 1024,
      NanoCpus: 1_000_000_000,
      PidsLimit: 256,
      Init: true,
      NetworkMode: "none",
      RestartPolicy: { Name: "no" },
    })
    expect(Config).toMatchObject({ OpenStdin: true, StdinOnce: false, Tty: false })
  })

  it("publishes a network server's MCP port on loopback only, on a random host port, with the same limits", async () => {
    const spec = mcpSpec(RUN, "streamable_http")
    const { containerId } = await run(runtime.create({ ...spec, ports: [{ containerPort: 9000, protocol: "tcp", hostIp: "0.0.0.0", hostPort: null }] }))
    const running = await run(runtime.start(containerId))
    const { HostConfig, Config } = await docker.getContainer(containerId).inspect()
    expect(Config.Cmd).toEqual(["streamableHttp"])
    expect(HostConfig).toMatchObject({ CapDrop: ["ALL"], ReadonlyRootfs: true, PidsLimit: 256, RestartPolicy: { Name: "no" } })
    expect(HostConfig.NetworkMode).not.toBe("none")
    expect(HostConfig.PortBindings).toEqual({
      "3001/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }],
      "9000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }],
    })
    for (const port of running.ports) expect(port).toMatchObject({ hostIp: "127.0.0.1", hostPort: expect.any(Number) })
  })

  it("cannot write outside /tmp and cannot execute what it writes there", async () => {
    const { containerId } = await run(runtime.create(mcpSpec(RUN, "stdio", "writes")))
    await run(runtime.start(containerId))
    const exec = async (script: string): Promise<number | null> => {
      const process = await docker.getContainer(containerId).exec({ Cmd: ["node", "-e", script], AttachStdout: true, AttachStderr: true })
      const stream = await process.start({})
      stream.resume()
      await new Promise((resolve) => stream.on("end", resolve))
      return (await process.inspect()).ExitCode
    }
    expect(await exec("require('fs').writeFileSync('/home/node/x', 'x')")).not.toBe(0)
    expect(await exec("require('fs').writeFileSync('/tmp/x', 'x')")).toBe(0)
    expect(await exec("require('child_process').execFileSync('/tmp/x')")).not.toBe(0)
  })
})
