import fc from "fast-check"
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import type { InstanceSpec } from "@dtma/domain"
import { arbInstanceName } from "@dtma/testing"
import { envValuesOf, toCreateBody } from "../../src/docker/containerSpec.ts"
import { decodeLabels } from "../../src/docker/labels.ts"

const spec = (overrides: Partial<InstanceSpec> = {}): InstanceSpec => ({
  name: "my tool",
  containerName: "my-tool-1a2b3c4d",
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
  it("names the container, its image and its environment with the secret values unwrapped", () => {
    const body = toCreateBody(spec())
    expect(body).toMatchObject({ name: "my-tool-1a2b3c4d", Image: "dtma/example-http:1", Env: ["API_KEY=k-123"] })
  })

  it("restarts unless stopped and runs an init so that a stop is quick", () => {
    expect(toCreateBody(spec()).HostConfig).toMatchObject({ RestartPolicy: { Name: "unless-stopped" }, Init: true })
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
      mcp: fc.option(fc.record({ transport: fc.constantFrom("stdio" as const, "sse" as const), endpointPath: fc.constant(null), port: fc.constant(null) }), { nil: null }),
      secret: fc.uuid(),
    })
    .map(({ env, secret, ...rest }) =>
      spec({ ...rest, containerName: "c", kind: rest.mcp === null ? "standard_tool" : "mcp_server", env: env.map((name, i) => ({ name, value: Redacted.make(`v${i}-${secret}`) })) }),
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
        })
      }),
    )
  })
})
