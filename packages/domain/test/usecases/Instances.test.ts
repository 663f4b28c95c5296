import { Effect, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { makeInstances, type DeployRequest } from "../../src/index.ts"
import { failureOf, InMemoryContainerRuntime, run } from "@dtma/testing"

const IMAGE = "dtma/example-http:1"

const setup = () => {
  const runtime = new InMemoryContainerRuntime({ images: [IMAGE], registry: ["dtma/pullable:1"] })
  const instances = makeInstances({ runtime, settings: { reservedHostPorts: [30000], stopGraceSeconds: 5 } })
  return { runtime, instances }
}

const request = (overrides: Partial<DeployRequest> = {}): DeployRequest => ({
  name: "tool-a",
  accountToolInstanceId: "ati-1",
  image: IMAGE,
  env: [{ name: "API_KEY", value: Redacted.make("k-123") }],
  ports: [],
  ...overrides,
})

const port = (hostPort: number | null, containerPort = 8080) => ({ containerPort, protocol: "tcp" as const, hostIp: "0.0.0.0", hostPort })

describe("deploying an instance", () => {
  it("creates and starts a container carrying the instance's name and account tool instance id", async () => {
    const { instances } = setup()
    const deployed = await run(instances.deploy(request()))
    expect(deployed).toMatchObject({ name: "tool-a", accountToolInstanceId: "ati-1", state: "running", kind: "standard_tool" })
    expect(await run(instances.list())).toEqual([deployed])
  })

  it("marks an instance with MCP settings as an MCP server", async () => {
    const { instances } = setup()
    const deployed = await run(instances.deploy(request({ mcp: { transport: "sse", endpointPath: "/sse", port: 8080 } })))
    expect(deployed.kind).toBe("mcp_server")
  })

  it("maps a name with spaces to a valid container name and keeps the given name", async () => {
    const { instances } = setup()
    const deployed = await run(instances.deploy(request({ name: "Context7 MCP Server-1750278276605" })))
    expect(deployed.name).toBe("Context7 MCP Server-1750278276605")
    expect(deployed.containerName).toMatch(/^Context7-MCP-Server-1750278276605-[0-9a-f]{8}$/)
  })

  it("refuses a name that is already managed", async () => {
    const { instances } = setup()
    await run(instances.deploy(request()))
    expect(await failureOf(instances.deploy(request({ accountToolInstanceId: "ati-2" })))).toMatchObject({ _tag: "InstanceAlreadyExists", name: "tool-a" })
  })

  it("refuses a host port held by a managed instance, even a stopped one", async () => {
    const { instances } = setup()
    await run(instances.deploy(request({ ports: [port(30001)] })))
    await run(instances.stop("tool-a"))
    const error = await failureOf(instances.deploy(request({ name: "tool-b", ports: [port(30001)] })))
    expect(error).toMatchObject({ _tag: "PortConflict", hostPort: 30001, heldBy: "managed_instance" })
  })

  it("refuses the DTMA's own port", async () => {
    const { instances, runtime } = setup()
    expect(await failureOf(instances.deploy(request({ ports: [port(30000)] })))).toMatchObject({ _tag: "PortConflict", heldBy: "dtma" })
    expect(runtime.containerCount()).toBe(0)
  })

  it("answers a port held by something else on the host as a conflict and leaves no container behind", async () => {
    const { instances, runtime } = setup()
    runtime.busyHostPorts.add(30005)
    expect(await failureOf(instances.deploy(request({ ports: [port(30005)] })))).toMatchObject({ _tag: "PortConflict", hostPort: 30005, heldBy: "host" })
    expect(runtime.containerCount()).toBe(0)
  })

  it("removes the container when it fails to start, so a retry does not hit a name conflict", async () => {
    const { instances, runtime } = setup()
    runtime.failNextStart('exec: "/app": no such file or directory')
    expect(await failureOf(instances.deploy(request()))).toMatchObject({ _tag: "RuntimeOperationFailed", operation: "start" })
    expect(runtime.containerCount()).toBe(0)
    expect((await run(instances.deploy(request()))).state).toBe("running")
  })

  it("answers a name held by an unmanaged container as a conflict", async () => {
    const { instances, runtime } = setup()
    runtime.unmanagedNames.add("tool-a")
    expect(await failureOf(instances.deploy(request()))).toMatchObject({ _tag: "NameTakenByUnmanagedContainer", containerName: "tool-a" })
  })

  it("pulls an absent image once and refuses an image that cannot be had", async () => {
    const { instances, runtime } = setup()
    await run(instances.deploy(request({ image: "dtma/pullable:1" })))
    await run(instances.deploy(request({ name: "tool-b", image: "dtma/pullable:1" })))
    expect(runtime.pulls).toBe(1)
    expect(await failureOf(instances.deploy(request({ name: "tool-c", image: "nowhere/absent:1" })))).toMatchObject({
      _tag: "ImageUnavailable",
      reason: "pull_failed",
    })
  })

  it("refuses invalid names, images and env names before touching the runtime", async () => {
    const { instances, runtime } = setup()
    runtime.daemonDown = true
    for (const bad of [
      request({ name: "a/b" }),
      request({ image: "UPPER/Case" }),
      request({ env: [{ name: "1BAD", value: Redacted.make("x") }] }),
      request({ ports: [port(70000)] }),
    ]) {
      expect(await failureOf(instances.deploy(bad))).toMatchObject({ _tag: "InvalidInstanceSpec" })
    }
  })

  it("reports an unreachable runtime as unavailable", async () => {
    const { instances, runtime } = setup()
    runtime.daemonDown = true
    expect(await failureOf(instances.deploy(request()))).toMatchObject({ _tag: "RuntimeUnavailable" })
  })

  it("lets exactly one of 50 concurrent deploys of one name succeed", async () => {
    const { instances, runtime } = setup()
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => Effect.runPromiseExit(instances.deploy(request({ accountToolInstanceId: `ati-${i}` })))),
    )
    expect(results.filter((r) => r._tag === "Success")).toHaveLength(1)
    expect(runtime.containerCount()).toBe(1)
  })
})

describe("managing an instance", () => {
  it("starts a stopped instance and says when it was already running", async () => {
    const { instances } = setup()
    await run(instances.deploy(request()))
    expect((await run(instances.start("tool-a"))).outcome).toBe("already_running")
    await run(instances.stop("tool-a"))
    const started = await run(instances.start("tool-a"))
    expect(started).toMatchObject({ outcome: "started", container: { state: "running" } })
  })

  it("stops idempotently", async () => {
    const { instances } = setup()
    await run(instances.deploy(request()))
    expect((await run(instances.stop("tool-a"))).state).toBe("exited")
    expect((await run(instances.stop("tool-a"))).state).toBe("exited")
  })

  it("answers start, stop and remove of an unknown name as not found", async () => {
    const { instances } = setup()
    for (const op of [instances.start("nope"), instances.stop("nope"), instances.remove("nope")]) {
      expect(await failureOf(op as Effect.Effect<unknown, unknown>)).toMatchObject({ _tag: "InstanceNotFound", name: "nope" })
    }
  })

  it("removes the instance and forgets it", async () => {
    const { instances, runtime } = setup()
    await run(instances.deploy(request()))
    await run(instances.remove("tool-a"))
    expect(await run(instances.list())).toEqual([])
    expect(runtime.containerCount()).toBe(0)
  })
})

describe("reconciling after a restart", () => {
  it("adopts every managed container a previous DTMA left", async () => {
    const { runtime, instances } = setup()
    await run(instances.deploy(request()))
    await run(instances.deploy(request({ name: "tool-b" })))
    await run(instances.stop("tool-b"))
    const restarted = makeInstances({ runtime, settings: { reservedHostPorts: [30000], stopGraceSeconds: 5 } })
    expect(await run(restarted.reconcile())).toEqual({ adopted: ["tool-a", "tool-b"], removed: [] })
    expect((await run(restarted.start("tool-b"))).outcome).toBe("started")
  })

  it("removes a container whose deploy never started it, and duplicates of one name", async () => {
    const { runtime, instances } = setup()
    const spec = {
      name: "half",
      accountToolInstanceId: "x",
      image: IMAGE,
      kind: "standard_tool" as const,
      env: [],
      ports: [],
      pullPolicy: "never" as const,
      mcp: null,
      command: null,
    }
    const half = await run(runtime.create(spec))
    const first = await run(runtime.create({ ...spec, name: "dup" }))
    await run(runtime.start(first.containerId))
    const second = await run(runtime.create({ ...spec, name: "dup" }, { replacement: true }))
    const report = await run(instances.reconcile())
    expect(report.adopted).toEqual(["dup"])
    expect(report.removed).toEqual(
      expect.arrayContaining([
        { containerId: half.containerId, name: "half", reason: "never_started" },
        { containerId: second.containerId, name: "dup", reason: "duplicate" },
      ]),
    )
    expect((await run(instances.list())).map((c) => c.containerId)).toEqual([first.containerId])
  })
})

describe("starting an instance whose host port was taken meanwhile", () => {
  it("answers a port conflict held by the host", async () => {
    const { instances, runtime } = setup()
    await run(instances.deploy(request({ ports: [port(30007)] })))
    await run(instances.stop("tool-a"))
    runtime.busyHostPorts.add(30007)
    expect(await failureOf(instances.start("tool-a"))).toMatchObject({ _tag: "PortConflict", hostPort: 30007, heldBy: "host" })
  })
})

describe("deploy requests the runtime would mishandle", () => {
  it("refuses an env value with a NUL character without echoing the value", async () => {
    const { instances, runtime } = setup()
    const error = await failureOf(instances.deploy(request({ env: [{ name: "TOOL_TOKEN", value: Redacted.make("nul-secret\u0000tail") }] })))
    expect(error).toMatchObject({ _tag: "InvalidInstanceSpec", field: "env" })
    expect(error.message).not.toContain("nul-secret")
    expect(runtime.containerCount()).toBe(0)
  })

  it.each(["not-an-ip", "256.1.1.1", "127.0.0.1 ", ""])("refuses HostIp %j, which Docker would publish on every interface", async (hostIp) => {
    const { instances } = setup()
    expect(await failureOf(instances.deploy(request({ ports: [{ containerPort: 8080, protocol: "tcp", hostIp, hostPort: 30001 }] })))).toMatchObject({
      _tag: "InvalidInstanceSpec",
      field: "ports",
    })
  })

  it.each(["0.0.0.0", "127.0.0.1", "::", "::1", "fe80::1"])("accepts HostIp %s", async (hostIp) => {
    const { instances } = setup()
    expect((await run(instances.deploy(request({ ports: [{ containerPort: 8080, protocol: "tcp", hostIp, hostPort: null }] })))).state).toBe("running")
  })

  it.each([".", ".."])("refuses the name %j, which URLs cannot address", async (name) => {
    const { instances } = setup()
    expect(await failureOf(instances.deploy(request({ name })))).toMatchObject({ _tag: "InvalidInstanceSpec", field: "name" })
  })
})

describe("container overrides", () => {
  const mcp = { transport: "stdio" as const, endpointPath: null, port: null }

  it("accepts limits within the operator's bounds and refuses them past it, naming the field", async () => {
    const { instances } = setup()
    const ok = await run(instances.deploy(request({ overrides: { memoryBytes: 64 * 1024 * 1024, nanoCpus: 500_000_000, pidsLimit: 32 } })))
    expect(ok.state).toBe("running")
    for (const [overrides, field] of [
      [{ memoryBytes: 5 * 1024 ** 3 }, "memoryBytes"],
      [{ memoryBytes: 1024 }, "memoryBytes"],
      [{ nanoCpus: 3_000_000_000 }, "nanoCpus"],
      [{ pidsLimit: 0 }, "pidsLimit"],
    ] as const) {
      expect(await failureOf(instances.deploy(request({ name: "over", overrides })))).toMatchObject({ _tag: "InvalidInstanceSpec", field })
    }
  })

  it("refuses reserved labels, root for an MCP server, and tmpfs mounts that would allow exec", async () => {
    const { instances } = setup()
    expect(await failureOf(instances.deploy(request({ overrides: { labels: { "dtma.managed": "false" } } })))).toMatchObject({ field: "labels" })
    expect(await failureOf(instances.deploy(request({ mcp, overrides: { user: "0:0" } })))).toMatchObject({ field: "user" })
    expect(await failureOf(instances.deploy(request({ overrides: { tmpfs: { "/x": "rw,exec" } } })))).toMatchObject({ field: "tmpfs" })
    expect(await failureOf(instances.deploy(request({ overrides: { tmpfs: { relative: "rw" } } })))).toMatchObject({ field: "tmpfs" })
    expect((await run(instances.deploy(request({ overrides: { user: "root" } })))).state).toBe("running")
  })
})

describe("the container's user, read as the runtime reads it", () => {
  const mcp = { transport: "stdio" as const, endpointPath: null, port: null }
  const problemOf = async (user: string, over: Partial<DeployRequest> = { mcp }) => {
    const { instances } = setup()
    return failureOf(instances.deploy(request({ ...over, overrides: { user } })))
  }

  it.each(["0", "00", "0000", "+0", "-0", "+00", "root", "0:1000", "000:1000", "root:1000"])(
    "refuses uid 0 spelled %j for an MCP server, naming User",
    async (user) => {
      expect(await problemOf(user)).toMatchObject({ _tag: "InvalidInstanceSpec", field: "user", problem: expect.stringContaining("uid 0") })
    },
  )

  it.each(["1000:0", "1000:00", "1000:+0", "1000:-0", "nobody:root", "node:0", "65534:root"])(
    "refuses gid 0 spelled %j for an MCP server, naming User",
    async (user) => {
      expect(await problemOf(user)).toMatchObject({ _tag: "InvalidInstanceSpec", field: "user", problem: expect.stringContaining("group 0") })
    },
  )

  it.each(["node", "nobody"])("refuses the name %j alone for an MCP server: without a group the runtime may give it group 0", async (user) => {
    expect(await problemOf(user)).toMatchObject({ _tag: "InvalidInstanceSpec", field: "user", problem: expect.stringContaining("group 0 (root)") })
  })

  it.each([" 0", "0 ", "0x0", "1e3", "a:b:c", "1000:1000:1", "", ":", ":1000", "1000:", "-1", "2147483648", "99999999999999999999", "1000: 0", "nöde:1"])(
    "refuses the malformed User %j with a 400 that says what is wrong, for any kind",
    async (user) => {
      for (const over of [{ mcp }, {}]) {
        const failure = await problemOf(user, over)
        expect(failure).toMatchObject({ _tag: "InvalidInstanceSpec", field: "user" })
        expect(failure._tag === "InvalidInstanceSpec" && failure.problem).not.toMatch(/uid 0|group 0/)
      }
    },
  )

  it("runs an MCP server as a non-root user and group however the numbers are spelled, keeping the runtime's reading", async () => {
    const { instances, runtime } = setup()
    for (const [name, user, kept] of [
      ["a", "1000:1000", "1000:1000"],
      ["b", "+01000:0065534", "1000:65534"],
      ["c", "node:nogroup", "node:nogroup"],
      ["d", "nobody:1000", "nobody:1000"],
    ] as const) {
      const deployed = await run(instances.deploy(request({ name, mcp, overrides: { user } })))
      expect(deployed.state).toBe("running")
      expect(runtime.specOf(deployed.containerId)?.overrides?.user).toBe(kept)
    }
  })

  it("keeps root for a standard tool, as Docker's default", async () => {
    const { instances } = setup()
    for (const [name, user] of [
      ["a", "root"],
      ["b", "0:0"],
      ["c", "00"],
    ] as const)
      expect((await run(instances.deploy(request({ name, overrides: { user } })))).state).toBe("running")
  })
})

describe("tmpfs mounts, checked as the runtime would check them", () => {
  const tmpfsProblem = async (tmpfs: Record<string, string>) => {
    const { instances } = setup()
    return failureOf(instances.deploy(request({ overrides: { tmpfs } })))
  }

  it.each([
    "size=abc",
    "size=",
    "size=1.5m",
    "size=-1",
    "size=1e3",
    "size=0x10",
    "mode=999",
    "mode=",
    "mode=abc",
    "mode=0o700",
    "uid=x",
    "uid=",
    "uid=-1",
    "uid=4294967295",
    "gid=x",
    "nr_inodes=abc",
    "nr_inodes=",
    "foo",
    "foo=bar",
    "huge=never",
    "tmpcopyup",
    "bind",
    "rbind",
    "remount",
    "shared",
    ",",
    "size=1m,",
    ",size=1m",
    "size=1m,size=2m",
    "noexec,noexec",
    "ro,rw",
    "SIZE=1m",
    "noexec=1",
    "size=1m=2",
    "=1",
  ])("refuses the tmpfs options %j, naming HostConfig.Tmpfs and the option", async (options) => {
    const failure = await tmpfsProblem({ "/cache": options })
    expect(failure).toMatchObject({ _tag: "InvalidInstanceSpec", field: "tmpfs" })
  })

  it.each(["exec", "suid", "dev", "rw,noexec,exec", "size=8m,suid"])("refuses %j: tmpfs mounts stay noexec, nosuid and nodev", async (options) => {
    const failure = await tmpfsProblem({ "/cache": options })
    expect(failure).toMatchObject({ _tag: "InvalidInstanceSpec", field: "tmpfs", problem: expect.stringMatching(/no exec, no suid, no dev/) })
  })

  it.each([
    "/proc",
    "/proc/sys",
    "/sys",
    "/sys/x",
    "/dev",
    "/dev/null",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/hostname",
    "/a\nb",
    "relative",
    "/",
    "/a/../b",
  ])("refuses a tmpfs mount on %j, which the runtime cannot mount or must keep", async (path) => {
    expect(await tmpfsProblem({ [path]: "" })).toMatchObject({ _tag: "InvalidInstanceSpec", field: "tmpfs" })
  })

  it("accepts known options with valid values", async () => {
    const { instances } = setup()
    const tmpfs = {
      "/a": "",
      "/b": "rw,noexec,nosuid,nodev,size=64m",
      "/c": "ro,size=1048576",
      "/d": "size=10%,mode=1777",
      "/e": "mode=0700,uid=1000,gid=1000",
      "/f": "nr_inodes=1k,size=2G",
      "/g": "noatime,nr_blocks=100",
      "/tmp/x": "size=8K",
    }
    expect((await run(instances.deploy(request({ overrides: { tmpfs } })))).state).toBe("running")
  })
})

describe("the host port the DTMA calls a network MCP server on", () => {
  const withFetchBadPorts = () => {
    const runtime = new InMemoryContainerRuntime({ images: [IMAGE], registry: [] })
    return makeInstances({ runtime, settings: { reservedHostPorts: [30000], stopGraceSeconds: 5, uncallableHostPorts: [22, 6000] } })
  }
  const http = { transport: "streamable_http" as const, endpointPath: "/mcp", port: 3001 }

  it("refuses a network server whose MCP port is published on a host port the DTMA's client refuses to call, naming the port and why", async () => {
    const instances = withFetchBadPorts()
    for (const hostPort of [22, 6000]) {
      const failure = await failureOf(
        instances.deploy(request({ mcp: http, ports: [{ containerPort: 3001, protocol: "tcp", hostIp: "127.0.0.1", hostPort }] })),
      )
      expect(failure).toMatchObject({ _tag: "InvalidInstanceSpec", field: "ports", problem: expect.stringContaining(`host port ${hostPort}`) })
      expect(failure._tag === "InvalidInstanceSpec" && failure.problem).toMatch(/fetch/)
    }
  })

  it("lets other published ports, stdio servers and standard tools use those host ports", async () => {
    const instances = withFetchBadPorts()
    const extra = { containerPort: 9000, protocol: "tcp" as const, hostIp: "127.0.0.1", hostPort: 22 }
    expect((await run(instances.deploy(request({ name: "a", mcp: http, ports: [extra] })))).state).toBe("running")
    expect((await run(instances.deploy(request({ name: "b", ports: [{ ...extra, hostPort: 6000 }] })))).state).toBe("running")
  })
})
