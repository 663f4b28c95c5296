import { Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import { mcpDeployRequestOf } from "../../src/requests/mcpDeployRequestOf.ts"

const base = { dockerImageUrl: "dtma/mcp-everything:1", instanceNameOnToolbox: "mcp-a", accountToolInstanceId: "ati-1" }

const requestOf = (body: unknown) => {
  const result = mcpDeployRequestOf(body)
  if (Result.isFailure(result)) throw new Error(`expected a request, got ${result.failure.message}`)
  return result.success
}

const failureOf = (body: unknown) => {
  const result = mcpDeployRequestOf(body)
  if (Result.isSuccess(result)) throw new Error("expected a failure")
  return result.failure
}

describe("reading a POST /mcp-servers body", () => {
  it("gives a stdio server neither path nor port, and publishes nothing for it", () => {
    expect(requestOf({ ...base, mcpTransportType: "stdio" })).toEqual({
      name: "mcp-a",
      accountToolInstanceId: "ati-1",
      image: "dtma/mcp-everything:1",
      env: [],
      ports: [],
      pullPolicy: undefined,
      mcp: { transport: "stdio", endpointPath: null, port: null },
      command: null,
      oauth: null,
    })
  })

  it("defaults a network server's path by transport and its port to 8080, published on loopback", () => {
    for (const [transport, path] of [
      ["sse", "/sse"],
      ["websocket", "/"],
      ["streamable_http", "/mcp"],
    ] as const) {
      const request = requestOf({ ...base, mcpTransportType: transport })
      expect(request.mcp).toEqual({ transport, endpointPath: path, port: 8080 })
      expect(request.ports).toEqual([{ containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null }])
    }
  })

  it("takes Cmd as the command, Env as the environment, and a port binding that covers the server's port as is", () => {
    const request = requestOf({
      ...base,
      mcpTransportType: "streamable_http",
      mcpPort: 3001,
      mcpEndpointPath: "/mcp",
      baseConfigOverrideJson: { Cmd: ["streamableHttp"], Env: ["PORT=3001"], HostConfig: { PortBindings: { "3001/tcp": [{ HostPort: "" }] } } },
    })
    expect(request.command).toEqual(["streamableHttp"])
    expect(request.env.map((e) => [e.name, Redacted.value(e.value)])).toEqual([["PORT", "3001"]])
    expect(request.ports).toEqual([{ containerPort: 3001, protocol: "tcp", hostIp: "0.0.0.0", hostPort: null }])
    expect(request.mcp).toEqual({ transport: "streamable_http", endpointPath: "/mcp", port: 3001 })
  })

  it("names every required field when one is missing, the transport included", () => {
    expect(failureOf({ ...base }).message).toBe("Missing required fields: dockerImageUrl, instanceNameOnToolbox, accountToolInstanceId, mcpTransportType")
  })

  it("refuses a transport it does not know, a path without a leading slash and a port out of range, naming the field", () => {
    expect(failureOf({ ...base, mcpTransportType: "carrier-pigeon" }).message).toMatch(/^Invalid mcpTransportType: /)
    expect(failureOf({ ...base, mcpTransportType: "sse", mcpEndpointPath: "sse" }).message).toBe('Invalid mcpEndpointPath: must be a path starting with "/"')
    expect(failureOf({ ...base, mcpTransportType: "sse", mcpPort: 70000 }).message).toBe("Invalid mcpPort: must be a port number between 1 and 65535")
    expect(failureOf({ ...base, mcpTransportType: "sse", credentialInjectionMethod: "carrier-pigeon" }).message).toMatch(/^Invalid credentialInjectionMethod: /)
  })

  it("keeps the name discovery for the discovery document", () => {
    expect(failureOf({ ...base, instanceNameOnToolbox: "discovery", mcpTransportType: "stdio" }).message).toMatch(
      /^Invalid instanceNameOnToolbox: 'discovery' is reserved/,
    )
  })

  const widening: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
    [{ Privileged: true }, "baseConfigOverrideJson.Privileged"],
    [{ HostConfig: { Privileged: true } }, "baseConfigOverrideJson.HostConfig.Privileged"],
    [{ HostConfig: { CapAdd: ["SYS_ADMIN"] } }, "baseConfigOverrideJson.HostConfig.CapAdd"],
    [{ HostConfig: { Binds: ["/:/host"] } }, "baseConfigOverrideJson.HostConfig.Binds"],
    [{ HostConfig: { Mounts: [{ Type: "bind", Source: "/", Target: "/host" }] } }, "baseConfigOverrideJson.HostConfig.Mounts"],
    [{ HostConfig: { Devices: [{ PathOnHost: "/dev/kmsg" }] } }, "baseConfigOverrideJson.HostConfig.Devices"],
    [{ HostConfig: { NetworkMode: "host" } }, "baseConfigOverrideJson.HostConfig.NetworkMode"],
    [{ HostConfig: { PidMode: "host" } }, "baseConfigOverrideJson.HostConfig.PidMode"],
    [{ HostConfig: { IpcMode: "container:other" } }, "baseConfigOverrideJson.HostConfig.IpcMode"],
    [{ HostConfig: { SecurityOpt: ["no-new-privileges", "seccomp=unconfined"] } }, "baseConfigOverrideJson.HostConfig.SecurityOpt"],
  ]
  for (const [override, key] of widening) {
    it(`refuses ${key} ${JSON.stringify(override).slice(0, 60)} as widening privileges, naming the key`, () => {
      const failure = failureOf({ ...base, mcpTransportType: "stdio", baseConfigOverrideJson: override })
      expect(failure._tag).toBe("InvalidRequest")
      expect(failure.message).toBe(`Invalid ${key}: widens the container's privileges, which MCP servers are never given`)
    })
  }

  it("lets through what does not widen privileges and asks for nothing the container lacks: no-new-privileges, CapAdd empty, Privileged false", () => {
    const override = { Privileged: false, HostConfig: { SecurityOpt: ["no-new-privileges:true"], CapAdd: [], Privileged: false, Binds: [], Mounts: [] } }
    expect(requestOf({ ...base, mcpTransportType: "stdio", baseConfigOverrideJson: override }).name).toBe("mcp-a")
  })

  // NetworkMode "bridge" widens nothing, but it is not applied either (a stdio server gets none): it is refused as unsupported, not as widening.
  it("refuses a key that does not widen privileges but would not be applied as unsupported, not as widening", () => {
    const failure = failureOf({ ...base, mcpTransportType: "stdio", baseConfigOverrideJson: { HostConfig: { NetworkMode: "bridge" } } })
    expect(failure.message).toMatch(/^Invalid baseConfigOverrideJson\.HostConfig\.NetworkMode: is not supported/)
  })

  const unsupported: ReadonlyArray<readonly [Record<string, unknown>, string, string]> = [
    [
      { baseConfigOverrideJson: { ReadonlyRootfs: false } },
      "baseConfigOverrideJson.ReadonlyRootfs",
      "Env, environmentVariables, Cmd, Entrypoint, WorkingDir, User, Labels, HostConfig",
    ],
    [
      { baseConfigOverrideJson: { HostConfig: { ReadonlyRootfs: false } } },
      "baseConfigOverrideJson.HostConfig.ReadonlyRootfs",
      "PortBindings, Memory, NanoCpus, PidsLimit, Tmpfs",
    ],
    [
      { baseConfigOverrideJson: { HostConfig: { Sysctls: { "net.ipv4.ip_forward": "1" } } } },
      "baseConfigOverrideJson.HostConfig.Sysctls",
      "PortBindings, Memory",
    ],
    [
      { baseConfigOverrideJson: { HostConfig: { Ulimits: [{ Name: "nofile", Soft: 1, Hard: 1 }] } } },
      "baseConfigOverrideJson.HostConfig.Ulimits",
      "PortBindings, Memory",
    ],
    [{ baseConfigOverrideJson: { HostConfig: { CgroupParent: "/x" } } }, "baseConfigOverrideJson.HostConfig.CgroupParent", "PortBindings, Memory"],
    [{ baseConfigOverrideJson: { HostConfig: { OomKillDisable: true } } }, "baseConfigOverrideJson.HostConfig.OomKillDisable", "PortBindings, Memory"],
    [{ baseConfigOverrideJson: { HostConfig: { MemorySwap: -1 } } }, "baseConfigOverrideJson.HostConfig.MemorySwap", "PortBindings, Memory"],
    [{ baseConfigOverrideJson: { HostConfig: { PublishAllPorts: true } } }, "baseConfigOverrideJson.HostConfig.PublishAllPorts", "PortBindings, Memory"],
    [{ baseConfigOverrideJson: { HostConfig: { privileged: true } } }, "baseConfigOverrideJson.HostConfig.privileged", "PortBindings, Memory"],
    [
      { baseConfigOverrideJson: { HostConfig: { Mounts: [{ Type: "volume", Source: "data", Target: "/data" }] } } },
      "baseConfigOverrideJson.HostConfig.Mounts",
      "empty",
    ],
    [{ baseConfigOverrideJson: { Image: "alpine" } }, "baseConfigOverrideJson.Image", "Env, environmentVariables"],
    [{ baseConfigOverrideJson: { Volumes: { "/data": {} } } }, "baseConfigOverrideJson.Volumes", "Env, environmentVariables"],
    [
      { baseConfigOverrideJson: { HostConfig: { PortBindings: { "3001/tcp": [{ HostPort: "", HostName: "x" }] } } } },
      "baseConfigOverrideJson.HostConfig.PortBindings.3001/tcp[0].HostName",
      "HostIp, HostPort",
    ],
    [{ Env: ["A=b"] }, "Env", "dockerImageUrl, instanceNameOnToolbox, accountToolInstanceId"],
    [{ restartPolicy: "always" }, "restartPolicy", "dockerImageUrl"],
  ]
  for (const [extra, path, supported] of unsupported) {
    it(`refuses ${path}, a key it would not apply, with a 400 naming it and what it takes`, () => {
      const failure = failureOf({ ...base, mcpTransportType: "streamable_http", ...extra })
      expect(failure._tag).toBe("InvalidRequest")
      expect(failure.message).toMatch(new RegExp(`^Invalid ${path.replace(/[.[\]/]/g, "\\$&")}: is not supported`))
      expect(failure.message).toContain(supported)
    })
  }

  it("refuses what a stdio server cannot use, saying it has no network: PortBindings, mcpPort, mcpEndpointPath", () => {
    const bindings = { HostConfig: { PortBindings: { "8080/tcp": [{ HostPort: "" }] } } }
    expect(failureOf({ ...base, mcpTransportType: "stdio", baseConfigOverrideJson: bindings }).message).toMatch(
      /^Invalid baseConfigOverrideJson\.HostConfig\.PortBindings: .*stdio server has no network/,
    )
    expect(failureOf({ ...base, mcpTransportType: "stdio", mcpPort: 3000 }).message).toMatch(/^Invalid mcpPort: .*stdio server has no network/)
    expect(failureOf({ ...base, mcpTransportType: "stdio", mcpEndpointPath: "/mcp" }).message).toMatch(/^Invalid mcpEndpointPath: .*stdio server/)
    expect(requestOf({ ...base, mcpTransportType: "stdio", baseConfigOverrideJson: { HostConfig: { PortBindings: {} } } }).ports).toEqual([])
  })

  it("keeps the widening message for widening keys whatever else the body holds", () => {
    const failure = failureOf({
      ...base,
      mcpTransportType: "stdio",
      baseConfigOverrideJson: { Sysctls: {}, HostConfig: { Ulimits: [], CapAdd: ["NET_ADMIN"] } },
    })
    expect(failure.message).toBe("Invalid baseConfigOverrideJson.HostConfig.CapAdd: widens the container's privileges, which MCP servers are never given")
  })

  it("carries Entrypoint, WorkingDir, User, Labels and the HostConfig limits to the domain, which checks their bounds", () => {
    const override = {
      Entrypoint: "node",
      WorkingDir: "/app",
      User: "1000:1000",
      Labels: { team: "search" },
      HostConfig: { Memory: 67108864, NanoCpus: 500000000, PidsLimit: 32, Tmpfs: { "/cache": "rw,size=8m" } },
    }
    expect(requestOf({ ...base, mcpTransportType: "stdio", baseConfigOverrideJson: override }).overrides).toEqual({
      entrypoint: ["node"],
      workingDir: "/app",
      user: "1000:1000",
      labels: { team: "search" },
      memoryBytes: 67108864,
      nanoCpus: 500000000,
      pidsLimit: 32,
      tmpfs: { "/cache": "rw,size=8m" },
    })
  })

  it("reads OAuth connections into a binding with the documented defaults, and no binding without connections", () => {
    expect(requestOf({ ...base, mcpTransportType: "stdio", agentId: "agent-1", oauthConnectionIds: ["conn-1"] }).oauth).toEqual({
      agentId: "agent-1",
      connectionIds: ["conn-1"],
      requiredScopes: [],
      method: "mounted_secrets",
      refreshStrategy: "on_expiry",
      refreshIntervalSeconds: null,
    })
    const fields = {
      agentId: "agent-1",
      requiredScopes: ["repo"],
      credentialInjectionMethod: "runtime_api",
      refreshStrategy: "periodic",
      refreshIntervalSeconds: 60,
    }
    expect(requestOf({ ...base, mcpTransportType: "stdio", oauthConnectionIds: ["conn-1"], ...fields }).oauth).toEqual({
      agentId: "agent-1",
      connectionIds: ["conn-1"],
      requiredScopes: ["repo"],
      method: "runtime_api",
      refreshStrategy: "periodic",
      refreshIntervalSeconds: 60,
    })
    expect(requestOf({ ...base, mcpTransportType: "stdio", mcpServerType: "mcp_server", ...fields, oauthConnectionIds: [] }).oauth).toBeNull()
  })

  it("needs an interval with the periodic refresh strategy", () => {
    expect(failureOf({ ...base, mcpTransportType: "stdio", refreshStrategy: "periodic" }).message).toBe(
      "Invalid refreshIntervalSeconds: is required with refreshStrategy periodic",
    )
  })
})
