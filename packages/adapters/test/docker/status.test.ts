import { describe, expect, it } from "vitest"
import type { ContainerJson } from "../../src/docker/DockerApi.ts"
import { encodeLabels } from "../../src/docker/labels.ts"
import { publishedPortsOf, startedAtOf, toManagedContainer, unixSecondsOf } from "../../src/docker/status.ts"

const labels = encodeLabels({
  name: "my tool",
  accountToolInstanceId: "ati-1",
  kind: "mcp_server",
  image: "dtma/example-http:1",
  mcp: { transport: "sse", endpointPath: "/sse", port: 8080 },
  envNames: ["API_KEY"],
  oauth: null,
  recipe: null,
  isolatedFor: null,
})
const requested = { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] }

// Shapes as Docker 20.10 (API 1.41) answered them on this project's machines.
const inspected = (state: ContainerJson["State"], ports: ContainerJson["NetworkSettings"]["Ports"] = {}): ContainerJson => ({
  Id: "6cb12a96ccae",
  Name: "/my-tool-1a2b3c4d",
  Created: "2026-11-24T03:07:56.834204908Z",
  Image: "sha256:4b1d5b7e0d9b0c7f3b0a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f",
  State: state,
  Config: { Labels: labels },
  HostConfig: { PortBindings: requested },
  NetworkSettings: { Ports: ports },
})

const NEVER = "0001-01-01T00:00:00Z"

describe("the status of an inspected container", () => {
  it("reads a created container: never started, no exit code, requested ports without a host port", () => {
    expect(toManagedContainer(inspected({ Status: "created", StartedAt: NEVER, ExitCode: 0 }))).toEqual({
      containerId: "6cb12a96ccae",
      containerName: "my-tool-1a2b3c4d",
      name: "my tool",
      accountToolInstanceId: "ati-1",
      kind: "mcp_server",
      image: "dtma/example-http:1",
      imageId: "sha256:4b1d5b7e0d9b0c7f3b0a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f",
      state: "created",
      createdAt: 1795489676,
      startedAt: null,
      exitCode: null,
      ports: [{ containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null }],
      mcp: { transport: "sse", endpointPath: "/sse", port: 8080 },
      oauth: null,
      recipe: null,
      isolatedFor: null,
    })
  })

  it("reads a running container with the host port Docker bound", () => {
    const running = toManagedContainer(
      inspected({ Status: "running", StartedAt: "2026-11-24T03:07:57.349389158Z", ExitCode: 0 }, { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "32768" }] }),
    )
    expect(running).toMatchObject({ state: "running", startedAt: "2026-11-24T03:07:57.349389158Z", exitCode: null })
    expect(running?.ports).toEqual([{ containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 32768 }])
  })

  it("reads the exit code of a stopped container", () => {
    expect(toManagedContainer(inspected({ Status: "exited", StartedAt: "2026-11-24T03:07:57Z", ExitCode: 143 }))).toMatchObject({
      state: "exited",
      exitCode: 143,
    })
  })

  it("reports no exit code for a container whose start failed (Docker says 128)", () => {
    expect(toManagedContainer(inspected({ Status: "created", StartedAt: NEVER, ExitCode: 128 }))?.exitCode).toBeNull()
  })

  it("calls a state it does not know dead", () => {
    expect(toManagedContainer(inspected({ Status: "hibernating", StartedAt: NEVER, ExitCode: 0 }))?.state).toBe("dead")
  })

  it("is null for a container that is not ours", () => {
    expect(toManagedContainer({ ...inspected({ Status: "running", StartedAt: NEVER, ExitCode: 0 }), Config: { Labels: { "com.example": "x" } } })).toBeNull()
    expect(toManagedContainer({ ...inspected({ Status: "running", StartedAt: NEVER, ExitCode: 0 }), Config: { Labels: null } })).toBeNull()
  })
})

describe("published ports", () => {
  it("skip exposed ports nobody published and report every address Docker bound", () => {
    const ports = publishedPortsOf(
      {
        "80/tcp": null,
        "8080/tcp": [
          { HostIp: "0.0.0.0", HostPort: "49153" },
          { HostIp: "::", HostPort: "49153" },
        ],
      },
      { "8080/tcp": [{ HostIp: "", HostPort: "" }] },
    )
    expect(ports).toEqual([
      { containerPort: 8080, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 49153 },
      { containerPort: 8080, protocol: "tcp", hostIp: "::", hostPort: 49153 },
    ])
  })

  it("fall back to the requested bindings while nothing is bound, fixed host ports included", () => {
    expect(publishedPortsOf({}, { "53/udp": [{ HostIp: "127.0.0.1", HostPort: "5353" }] })).toEqual([
      { containerPort: 53, protocol: "udp", hostIp: "127.0.0.1", hostPort: 5353 },
    ])
    expect(publishedPortsOf(null, null)).toEqual([])
  })

  it("ignore protocols the domain has no word for", () => {
    expect(publishedPortsOf({ "9/sctp": [{ HostIp: "127.0.0.1", HostPort: "9" }] }, {})).toEqual([])
  })
})

describe("Docker times", () => {
  it.each([
    ["2026-11-24T03:07:56.834204908Z", 1795489676],
    ["2026-11-24T03:07:56Z", 1795489676],
    ["2026-11-24T04:07:56.9+01:00", 1795489676],
    ["not a time", 0],
  ])("read %s as unix second %i", (text, seconds) => {
    expect(unixSecondsOf(text)).toBe(seconds)
  })

  it.each([
    [NEVER, null],
    ["", null],
    ["2026-11-24T03:07:57.349389158Z", "2026-11-24T03:07:57.349389158Z"],
  ])("read the start time %j as %j", (text, expected) => {
    expect(startedAtOf(text)).toBe(expected)
  })
})
