import { Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import { deployRequestOf, fieldOf } from "../../src/requests/deployRequestOf.ts"

const base = { dockerImageUrl: "img:1", instanceNameOnToolbox: "tool-a", accountToolInstanceId: "ati-1" }

const requestOf = (body: unknown) => {
  const result = deployRequestOf(body)
  if (Result.isFailure(result)) throw new Error(`expected a request, got ${result.failure.message}`)
  return result.success
}

const failureOf = (body: unknown) => {
  const result = deployRequestOf(body)
  if (Result.isSuccess(result)) throw new Error("expected a failure")
  return result.failure
}

const envOf = (body: unknown) => requestOf(body).env.map((e) => [e.name, Redacted.value(e.value)])

describe("translating a POST /tools body", () => {
  it("takes the three required fields as name, account tool instance id and image", () => {
    expect(requestOf(base)).toEqual({ name: "tool-a", accountToolInstanceId: "ati-1", image: "img:1", env: [], ports: [], pullPolicy: undefined, mcp: null })
  })

  it("keeps dockerImageUrl as the image whatever the override's dockerImage says", () => {
    expect(requestOf({ ...base, baseConfigOverrideJson: { dockerImage: "other:2" } }).image).toBe("img:1")
  })

  it("merges Env and environmentVariables, the latter winning, values wrapped as secrets", () => {
    const body = { ...base, baseConfigOverrideJson: { Env: ["A=1", "B=x=y", "C="], environmentVariables: { B: "2", D: "4" } } }
    expect(envOf(body)).toEqual([
      ["A", "1"],
      ["B", "2"],
      ["C", ""],
      ["D", "4"],
    ])
    expect(JSON.stringify(requestOf(body).env)).not.toContain('"4"')
  })

  it("turns Docker port bindings into port requests, an empty host address meaning all interfaces", () => {
    const body = {
      ...base,
      baseConfigOverrideJson: {
        HostConfig: {
          PortBindings: {
            "8080/tcp": [
              { HostIp: "", HostPort: "30001" },
              { HostIp: "127.0.0.1", HostPort: 30002 },
            ],
            "53/udp": [{ HostPort: "" }],
            "9000": [{}],
            "7000/tcp": null,
          },
        },
      },
    }
    const ports = requestOf(body).ports
    expect(ports).toHaveLength(4)
    expect(ports).toEqual(
      expect.arrayContaining([
        { containerPort: 8080, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 30001 },
        { containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 30002 },
        { containerPort: 53, protocol: "udp", hostIp: "0.0.0.0", hostPort: null },
        { containerPort: 9000, protocol: "tcp", hostIp: "0.0.0.0", hostPort: null },
      ]),
    )
  })

  it("turns portMappings into port requests and drops a mapping the bindings already ask for", () => {
    const body = {
      ...base,
      baseConfigOverrideJson: {
        HostConfig: { PortBindings: { "8080/tcp": [{ HostIp: "0.0.0.0", HostPort: "30001" }] } },
        portMappings: [{ containerPort: 8080, hostPort: 30001 }, { containerPort: "3000", hostPort: "30003" }, { containerPort: 4000 }],
      },
    }
    expect(requestOf(body).ports).toEqual([
      { containerPort: 8080, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 30001 },
      { containerPort: 3000, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 30003 },
      { containerPort: 4000, protocol: "tcp", hostIp: "0.0.0.0", hostPort: null },
    ])
  })

  it("makes an MCP server of a body with an MCP transport", () => {
    const body = { ...base, baseConfigOverrideJson: { mcpTransport: "streamable_http", mcpEndpoint: "/mcp", mcpPort: "3000", mcpCapabilities: ["tools"] } }
    expect(requestOf(body).mcp).toEqual({ transport: "streamable_http", endpointPath: "/mcp", port: 3000 })
    expect(requestOf({ ...base, baseConfigOverrideJson: { mcpEndpoint: "/mcp" } }).mcp).toBeNull()
  })

  it("passes the image pull policy", () => {
    expect(requestOf({ ...base, imagePullPolicy: "always" }).pullPolicy).toBe("always")
  })

  it("ignores keys it does not know, at every level, and nulls for optional fields", () => {
    const body = {
      ...base,
      callerVersion: 3,
      baseConfigOverrideJson: { Cmd: ["run"], HostConfig: { RestartPolicy: { Name: "always" }, PortBindings: null }, Env: null },
    }
    expect(requestOf(body)).toMatchObject({ env: [], ports: [] })
    expect(requestOf({ ...base, baseConfigOverrideJson: null }).ports).toEqual([])
  })

  it("reports every missing or empty required field, whatever else is wrong", () => {
    expect(failureOf({ dockerImageUrl: "", accountToolInstanceId: null, baseConfigOverrideJson: 5 })).toMatchObject({
      _tag: "MissingRequiredFields",
      fields: ["dockerImageUrl", "instanceNameOnToolbox", "accountToolInstanceId"],
    })
    expect(failureOf("not an object")).toMatchObject({ _tag: "MissingRequiredFields" })
  })

  it("names the field that is wrong, never an environment value", () => {
    expect(failureOf({ ...base, baseConfigOverrideJson: { Env: ["A=1", "SECRETVALUE"] } })).toMatchObject({
      _tag: "InvalidRequest",
      path: "baseConfigOverrideJson.Env[1]",
    })
    expect(failureOf({ ...base, baseConfigOverrideJson: { Env: ["A=1", "SECRETVALUE"] } }).message).not.toContain("SECRETVALUE")
    expect(failureOf({ ...base, baseConfigOverrideJson: { environmentVariables: { K: 42 } } })).toMatchObject({
      path: "baseConfigOverrideJson.environmentVariables.K",
    })
    expect(failureOf({ ...base, baseConfigOverrideJson: { mcpPort: "eighty" } }).message).toBe("Invalid baseConfigOverrideJson.mcpPort: must be a port number")
    expect(failureOf({ ...base, baseConfigOverrideJson: { HostConfig: { PortBindings: { "http/tcp": [] } } } }).message).toBe(
      `Invalid baseConfigOverrideJson.HostConfig.PortBindings: 'http/tcp' is not "<port>/tcp" or "<port>/udp"`,
    )
  })

  it("writes field paths the way a caller reads them", () => {
    expect(fieldOf(["baseConfigOverrideJson", "HostConfig", "PortBindings", "80/tcp", 0, "HostPort"])).toBe(
      "baseConfigOverrideJson.HostConfig.PortBindings.80/tcp[0].HostPort",
    )
    expect(fieldOf([])).toBe("body")
  })
})
