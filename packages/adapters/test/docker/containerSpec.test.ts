import fc from "fast-check"
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import type { InstanceSpec } from "@dtma/domain"
import { arbInstanceName } from "@dtma/testing"
import { containerNameFor } from "../../src/docker/containerName.ts"
import { envValuesOf, MCP_SERVER_LIMITS, restartPolicyFor, toCreateBody } from "../../src/docker/containerSpec.ts"
import { decodeLabels } from "../../src/docker/labels.ts"

const spec = (overrides: Partial<InstanceSpec> = {}): InstanceSpec => ({
  name: "my tool",
  accountToolInstanceId: "ati-1",
  image: "dtma/example-http:1",
  kind: "standard_tool",
  env: [{ name: "API_KEY", value: Redacted.make("k-123") }],
  ports: [],
  pullPolicy: "if_not_present",
  mcp: null,
  command: null,
  ...overrides,
})

describe("the container create body", () => {
  it("names the container after the instance, its image and its environment with the secret values unwrapped", () => {
    const body = toCreateBody(spec())
    expect(body).toMatchObject({ name: containerNameFor("my tool"), Image: "dtma/example-http:1", Env: ["API_KEY=k-123"] })
    expect(body.name).toMatch(/^my-tool-[0-9a-f]{8}$/)
  })

  it("restarts unless stopped and runs an init so that a stop is quick", () => {
    expect(toCreateBody(spec()).HostConfig).toMatchObject({ RestartPolicy: { Name: "unless-stopped" }, Init: true })
  })

  it.each([
    ["standard_tool", "unless-stopped"],
    // The DTMA restarts MCP servers itself, with backoff and a circuit breaker: Docker must not race it.
    ["mcp_server", "no"],
  ] as const)("leaves restarting a %s to %s", (kind, policy) => {
    expect(restartPolicyFor(kind)).toBe(policy)
  })

  const stdioServer = spec({ kind: "mcp_server", mcp: { transport: "stdio", endpointPath: null, port: null } })
  const httpServer = (ports: InstanceSpec["ports"] = []) =>
    spec({ kind: "mcp_server", ports, mcp: { transport: "streamable_http", endpointPath: "/mcp", port: 3001 } })

  it("locks an MCP server down: no capabilities, no new privileges, read-only root with a small tmpfs, limits, no log on disk, no restart", () => {
    for (const server of [stdioServer, httpServer()]) {
      expect(toCreateBody(server).HostConfig).toMatchObject({
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        ReadonlyRootfs: true,
        Tmpfs: { "/tmp": "rw,noexec,nosuid,size=64m" },
        Memory: 512 * 1024 * 1024,
        NanoCpus: 1e9,
        PidsLimit: 256,
        LogConfig: { Type: "none", Config: {} },
        Init: true,
        RestartPolicy: { Name: "no" },
      })
    }
    expect(MCP_SERVER_LIMITS.memoryBytes).toBe(536_870_912)
  })

  it("gives a stdio MCP server no network and publishes nothing for it", () => {
    const body = toCreateBody({ ...stdioServer, ports: [{ containerPort: 8080, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 18080 }] })
    expect(body.HostConfig.NetworkMode).toBe("none")
    expect(body.HostConfig.PortBindings).toEqual({})
    expect(body.ExposedPorts).toEqual({})
  })

  it("publishes a network MCP server's port on loopback, on a random host port unless a request covers it", () => {
    expect(toCreateBody(httpServer()).HostConfig.PortBindings).toEqual({ "3001/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] })
    const covered = toCreateBody(httpServer([{ containerPort: 3001, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 13001 }]))
    expect(covered.HostConfig.PortBindings).toEqual({ "3001/tcp": [{ HostIp: "127.0.0.1", HostPort: "13001" }] })
    expect(covered.HostConfig.NetworkMode).toBeUndefined()
  })

  it("leaves a standard tool as it was: no hardening, ports on the address asked for", () => {
    const body = toCreateBody(spec({ ports: [{ containerPort: 8080, protocol: "tcp", hostIp: "0.0.0.0", hostPort: null }] }))
    expect(body.HostConfig).toEqual({
      PortBindings: { "8080/tcp": [{ HostIp: "0.0.0.0", HostPort: "" }] },
      RestartPolicy: { Name: "unless-stopped" },
      Init: true,
    })
  })

  it("replaces the image's command only when the spec has one", () => {
    expect(toCreateBody(spec()).Cmd).toBeUndefined()
    expect(toCreateBody(spec({ command: ["sse", "--verbose"] })).Cmd).toEqual(["sse", "--verbose"])
  })

  it("exposes and binds every requested port, an absent host port as an empty one (Docker picks)", () => {
    const body = toCreateBody(
      spec({
        ports: [
          { containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 18080 },
          { containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null },
          { containerPort: 53, protocol: "udp", hostIp: "127.0.0.1", hostPort: null },
        ],
      }),
    )
    expect(body.ExposedPorts).toEqual({ "8080/tcp": {}, "53/udp": {} })
    expect(body.HostConfig.PortBindings).toEqual({
      "8080/tcp": [
        { HostIp: "127.0.0.1", HostPort: "18080" },
        { HostIp: "127.0.0.1", HostPort: "" },
      ],
      "53/udp": [{ HostIp: "127.0.0.1", HostPort: "" }],
    })
  })

  it("keeps stdin open for a stdio MCP server and only for one", () => {
    const stdio = toCreateBody(spec({ kind: "mcp_server", mcp: { transport: "stdio", endpointPath: null, port: null } }))
    expect(stdio).toMatchObject({ OpenStdin: true, StdinOnce: false, Tty: false })
    const sse = toCreateBody(spec({ kind: "mcp_server", mcp: { transport: "sse", endpointPath: "/sse", port: 8080 } }))
    expect(sse.OpenStdin).toBeUndefined()
    expect(toCreateBody(spec()).OpenStdin).toBeUndefined()
  })

  const arbSpec = fc
    .record({
      name: arbInstanceName,
      accountToolInstanceId: fc.option(fc.uuid(), { nil: null }),
      env: fc.uniqueArray(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), { maxLength: 4 }),
      mcp: fc.option(fc.record({ transport: fc.constantFrom("stdio" as const, "sse" as const), endpointPath: fc.constant(null), port: fc.constant(null) }), {
        nil: null,
      }),
      secret: fc.uuid(),
    })
    .map(({ env, secret, ...rest }) =>
      spec({
        ...rest,
        kind: rest.mcp === null ? "standard_tool" : "mcp_server",
        env: env.map((name, i) => ({ name, value: Redacted.make(`v${i}-${secret}`) })),
      }),
    )

  it("labels carry the instance and its env names, never an env value", () => {
    fc.assert(
      fc.property(arbSpec, (s) => {
        const labels = toCreateBody(s).Labels
        for (const value of envValuesOf(s)) expect(JSON.stringify(labels)).not.toContain(value)
        expect(decodeLabels(labels)).toEqual({
          name: s.name,
          accountToolInstanceId: s.accountToolInstanceId,
          kind: s.kind,
          image: s.image,
          mcp: s.mcp,
          envNames: s.env.map((e) => e.name),
          oauth: null,
          recipe: { command: s.command, ports: s.ports, pullPolicy: s.pullPolicy, overrides: null },
          isolatedFor: null,
        })
      }),
    )
  })
})

describe("a caller's overrides in the create body", () => {
  const overrides = {
    entrypoint: ["node"],
    workingDir: "/app",
    user: "1000:1000",
    labels: { team: "search", "dtma.managed": "false" },
    memoryBytes: 256 * 1024 * 1024,
    nanoCpus: 500_000_000,
    pidsLimit: 64,
    tmpfs: { "/cache": "rw,noexec,nosuid,size=16m" },
  }

  it("replaces the hardened limits of an MCP server and adds tmpfs mounts to its /tmp, keeping the rest locked down", () => {
    const body = toCreateBody(spec({ kind: "mcp_server", mcp: { transport: "stdio", endpointPath: null, port: null }, overrides }))
    expect(body).toMatchObject({ Entrypoint: ["node"], WorkingDir: "/app", User: "1000:1000" })
    expect(body.HostConfig).toMatchObject({
      Memory: 256 * 1024 * 1024,
      NanoCpus: 500_000_000,
      PidsLimit: 64,
      Tmpfs: { "/tmp": "rw,noexec,nosuid,size=64m", "/cache": "rw,noexec,nosuid,size=16m" },
      CapDrop: ["ALL"],
      ReadonlyRootfs: true,
      NetworkMode: "none",
    })
  })

  it("never lets a caller's label change what marks the container as the DTMA's", () => {
    const body = toCreateBody(spec({ overrides }))
    expect(body.Labels["team"]).toBe("search")
    expect(decodeLabels(body.Labels)).toMatchObject({ name: "my tool", accountToolInstanceId: "ati-1" })
  })

  it("mounts only the DTMA's credential directories, read-only, and labels the OAuth binding without a token", () => {
    const oauth = {
      agentId: "agent-1",
      connectionIds: ["c-1"],
      requiredScopes: ["repo"],
      method: "mounted_secrets" as const,
      refreshStrategy: "on_expiry" as const,
      refreshIntervalSeconds: null,
    }
    const body = toCreateBody(
      spec({
        kind: "mcp_server",
        mcp: { transport: "stdio", endpointPath: null, port: null },
        oauth,
        mounts: [{ hostPath: "/run/dtma/secrets/x", containerPath: "/run/secrets/dtma" }],
      }),
    )
    expect(body.HostConfig.Mounts).toEqual([{ Type: "bind", Source: "/run/dtma/secrets/x", Target: "/run/secrets/dtma", ReadOnly: true }])
    expect(decodeLabels(body.Labels)?.oauth).toEqual(oauth)
    expect(toCreateBody(spec({})).HostConfig.Mounts).toBeUndefined()
  })

  it("are recorded in the recipe label with the command, ports and pull policy, to create the container again the same way", () => {
    const ports = [{ containerPort: 8080, protocol: "tcp" as const, hostIp: "127.0.0.1", hostPort: null }]
    const s = spec({ kind: "mcp_server", mcp: { transport: "sse", endpointPath: "/sse", port: 8080 }, command: ["sse"], ports, pullPolicy: "never", overrides })
    expect(decodeLabels(toCreateBody(s).Labels)?.recipe).toEqual({ command: ["sse"], ports, pullPolicy: "never", overrides })
  })

  it("leaves the defaults alone where the caller set nothing", () => {
    const none = { entrypoint: null, workingDir: null, user: null, labels: {}, memoryBytes: null, nanoCpus: null, pidsLimit: null, tmpfs: {} }
    const body = toCreateBody(spec({ kind: "mcp_server", mcp: { transport: "stdio", endpointPath: null, port: null }, overrides: none }))
    expect(body).toEqual(toCreateBody(spec({ kind: "mcp_server", mcp: { transport: "stdio", endpointPath: null, port: null } })))
  })
})
