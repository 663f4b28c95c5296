// The legacy contract (../../../../shared/spec/legacy-dtma-api.md), item by item, where the other
// test files leave an item unpinned: statuses and bodies, the old bugs and their fixes, bad input.
import { once } from "node:events"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import fc from "fast-check"
import { Effect } from "effect"
import {
  AgentAccess,
  AuditLog,
  ContainerEvents,
  ContainerLogs,
  ContainerRuntime,
  McpConnector,
  ControlPlane,
  CredentialDelivery,
  CredentialSource,
  HostMetrics,
  type Heartbeat,
  type InstanceSpec,
} from "@dtma/domain"
import {
  FixedHostMetrics,
  InMemoryAuditLog,
  InMemoryContainerEvents,
  InMemoryCredentialDelivery,
  InMemoryCredentialSource,
  InMemoryContainerLogs,
  InMemoryContainerRuntime,
  InMemoryMcpConnector,
  RecordingControlPlane,
  arbInstanceName,
  failureOf,
  fakesModule,
  run,
  fakeAgentAccess,
} from "@dtma/testing"
import { containerNameFor } from "@dtma/adapters"
import { Container, ContainerModule } from "inversify"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { adaptersModule } from "../../src/composition/adaptersModule.ts"
import type { Config } from "../../src/composition/config.ts"
import { buildContainer } from "../../src/composition/container.ts"
import { createApp } from "../../src/server/createApp.ts"
import { startHeartbeatLoop } from "../../src/composition/heartbeatLoop.ts"
import { loadConfig } from "../../src/composition/loadConfig.ts"
import { bound, Tokens } from "../../src/composition/tokens.ts"
import { startDtma } from "../support/dtmaProcess.ts"
import { capturingLogger, deployBody, IMAGE, MCP_IMAGE, NOW, startTestApp, testConfig, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

const deploy = (overrides: Record<string, unknown> = {}) => app.json("POST", "/tools", deployBody(overrides))
const override = (baseConfigOverrideJson: unknown) => ({ baseConfigOverrideJson })
const bindings = (containerPort: string, hostPort: string | number, hostIp = "0.0.0.0") =>
  override({ HostConfig: { PortBindings: { [containerPort]: [{ HostIp: hostIp, HostPort: hostPort }] } } })
const scratch = () => mkdtempSync(join(tmpdir(), "dtma-legacy-"))

// JSON bodies are read freely in assertions.
// oxlint-disable-next-line typescript/no-explicit-any
const jsonOf = async (res: Response): Promise<any> => JSON.parse(await res.text())

/** A runtime whose create dies (a defect, not a typed failure): the "any other failure" row. */
class DyingRuntime extends InMemoryContainerRuntime {
  override create() {
    return Effect.die(new Error("unexpected runtime defect"))
  }
}

/** An instance spec as the domain builds it, for containers put into the fake runtime directly. */
const specOf = (name: string, accountToolInstanceId: string): InstanceSpec => ({
  name,
  accountToolInstanceId,
  image: IMAGE,
  kind: "standard_tool",
  env: [],
  ports: [],
  pullPolicy: "if_not_present",
  mcp: null,
  command: null,
})

describe("authentication (legacy contract)", () => {
  it("accepts a token from each configured source: BACKEND_TO_DTMA_API_KEY, DTMA_BEARER_TOKEN and DTMA_AUTH_TOKEN from the file", async () => {
    const dir = scratch()
    writeFileSync(join(dir, "dtma.conf"), "DTMA_AUTH_TOKEN=file-token\n")
    const config = loadConfig({ DTMA_CONFIG_FILE: join(dir, "dtma.conf"), BACKEND_TO_DTMA_API_KEY: "api-key", DTMA_BEARER_TOKEN: "bearer-token" })
    const configured = await startTestApp({ config })
    try {
      for (const token of ["api-key", "bearer-token", "file-token"]) {
        expect((await fetch(`${configured.base}/tools/status`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
      }
      const wrong = await fetch(`${configured.base}/tools/status`, { headers: { authorization: "Bearer api-keybearer-token" } })
      expect(wrong.status).toBe(403)
      expect(await wrong.json()).toEqual({ error: "Forbidden: Invalid token" })
    } finally {
      await configured.close()
    }
  })

  it("lets an environment variable win over the same setting in the config file", async () => {
    const dir = scratch()
    writeFileSync(join(dir, "dtma.conf"), "DTMA_AUTH_TOKEN=from-file\n")
    const config = loadConfig({ DTMA_CONFIG_FILE: join(dir, "dtma.conf"), DTMA_AUTH_TOKEN: "from-env" })
    const configured = await startTestApp({ config })
    try {
      expect((await fetch(`${configured.base}/tools/status`, { headers: { authorization: "Bearer from-env" } })).status).toBe(200)
      expect((await fetch(`${configured.base}/tools/status`, { headers: { authorization: "Bearer from-file" } })).status).toBe(403)
    } finally {
      await configured.close()
    }
  })

  it("with no token configured, serves nothing unauthenticated and accepts only the generated token", async () => {
    const stateDir = join(scratch(), "state")
    const config = loadConfig({ DTMA_CONFIG_FILE: join(stateDir, "absent.conf"), DTMA_STATE_DIR: stateDir })
    const generated = readFileSync(join(stateDir, "api-token"), "utf8").trim()
    const open = await startTestApp({ config })
    try {
      const none = await fetch(`${open.base}/tools/status`)
      expect(none.status).toBe(401)
      expect(await none.json()).toEqual({ error: "Unauthorized: Missing or invalid token format" })
      expect((await fetch(`${open.base}/tools`, { method: "POST", headers: { authorization: "Bearer " } })).status).toBe(401)
      expect((await fetch(`${open.base}/tools/status`, { headers: { authorization: "Bearer guessed" } })).status).toBe(403)
      expect((await fetch(`${open.base}/tools/status`, { headers: { authorization: `Bearer ${generated}` } })).status).toBe(200)
    } finally {
      await open.close()
    }
  })

  it("checks the token before reading a body, so an unauthenticated malformed or oversized body is a 401", async () => {
    const malformed = await fetch(`${app.base}/tools`, { method: "POST", body: "{not json", headers: { "content-type": "application/json" } })
    expect(malformed.status).toBe(401)
    expect(await malformed.json()).toEqual({ error: "Unauthorized: Missing or invalid token format" })
    const big = await fetch(`${app.base}/tools`, {
      method: "POST",
      body: JSON.stringify(deployBody({ pad: "x".repeat(2 * 1024 * 1024) })),
      headers: { "content-type": "application/json" },
    })
    expect(big.status).toBe(401)
    expect(app.runtime.containerCount()).toBe(0)
  })

  it("serves GET /health and GET /status whatever Authorization says, HEAD included", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: "Basic x" }]) {
      expect((await fetch(`${app.base}/health`, { headers })).status).toBe(200)
      expect((await fetch(`${app.base}/status`, { headers })).status).toBe(200)
    }
    expect((await fetch(`${app.base}/status`, { method: "HEAD" })).status).toBe(200)
  })
})

describe("GET /status (legacy contract)", () => {
  it("reports configuration as flags only: all false, and the port as a string, when nothing is configured", async () => {
    const bare = await startTestApp({
      config: { port: 31000, apiBaseUrl: null, outboundToken: null, has: { apiKey: false, bearerToken: false, fileToken: false } },
    })
    try {
      expect((await jsonOf(await fetch(`${bare.base}/status`))).environment).toEqual({
        hasAuthToken: false,
        hasApiKey: false,
        hasApiBaseUrl: false,
        port: "31000",
      })
    } finally {
      await bare.close()
    }
  })

  it("reports an older droplet configured by the file alone, without a value from it", async () => {
    const dir = scratch()
    writeFileSync(join(dir, "dtma.conf"), "DTMA_AUTH_TOKEN=legacy-file-token\nAGENTOPIA_API_BASE_URL=https://legacy-project.supabase.co/functions/v1\n")
    const older = await startTestApp({ config: loadConfig({ DTMA_CONFIG_FILE: join(dir, "dtma.conf") }) })
    try {
      const res = await fetch(`${older.base}/status`)
      const text = await res.text()
      expect(JSON.parse(text).environment).toEqual({ hasAuthToken: true, hasApiKey: false, hasApiBaseUrl: true, port: "30000" })
      expect(text).not.toContain("legacy-file-token")
      expect(text).not.toContain("legacy-project")
    } finally {
      await older.close()
    }
  })

  it("gives each instance Docker's state string, its account tool instance id, and an id equal to its container id", async () => {
    await deploy({ instanceNameOnToolbox: "runs", accountToolInstanceId: "ati-runs" })
    const crashed = await jsonOf(await deploy({ instanceNameOnToolbox: "crashed", accountToolInstanceId: "ati-crashed" }))
    app.runtime.crash(crashed.data.container_id, 1)
    await run(app.runtime.create(specOf("created only", "ati-created")))
    const body = await jsonOf(await fetch(`${app.base}/status`))
    const byName = new Map<string, Record<string, unknown>>(body.tool_instances.map((t: Record<string, unknown>) => [t.instance_name_on_toolbox, t]))
    expect([...byName.keys()].sort()).toEqual(["crashed", "created only", "runs"])
    expect(byName.get("runs")).toMatchObject({ status: "running", state: "running", account_tool_instance_id: "ati-runs" })
    expect(byName.get("crashed")).toMatchObject({ status: "exited", state: "exited", account_tool_instance_id: "ati-crashed" })
    expect(byName.get("created only")).toMatchObject({ status: "created", state: "created", account_tool_instance_id: "ati-created" })
    for (const entry of byName.values()) {
      expect(entry.id).toBe(entry.container_id)
      expect(entry.created).toBe(Math.floor(NOW.getTime() / 1000))
    }
  })
})

describe("POST /tools (legacy contract)", () => {
  it("answers a required field of the wrong type with a 400 that names the field", async () => {
    const res = await app.json("POST", "/tools", { dockerImageUrl: 42, instanceNameOnToolbox: "tool-a", accountToolInstanceId: "ati-1" })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ success: false, error: expect.stringMatching(/^Invalid dockerImageUrl: /), code: "invalid_request" })
  })

  it("answers a baseConfigOverrideJson that is not an object with a 400 that names it", async () => {
    const res = await deploy(override(["Env"]))
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ success: false, error: expect.stringMatching(/^Invalid baseConfigOverrideJson/) })
  })

  it("answers a name Docker could never accept and that cannot be mapped with a 400 that says why", async () => {
    for (const [name, why] of [
      ["a/b", "must not contain control characters, '/' or '\\'"],
      ["tab\there", "must not contain control characters, '/' or '\\'"],
      ["x".repeat(201), "must be at most 200 characters"],
    ] as const) {
      const res = await deploy({ instanceNameOnToolbox: name })
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({ success: false, error: `Invalid instanceNameOnToolbox: ${why}`, code: "invalid_request" })
    }
    expect(app.runtime.containerCount()).toBe(0)
  })

  it("deploys, starts, stops and removes the exact name a caller sent with spaces, raw and encoded, never a 500", async () => {
    const name = "Context7 MCP Server-1750278276605"
    const deployed = await deploy({ instanceNameOnToolbox: name })
    expect(deployed.status).toBe(201)
    expect((await jsonOf(deployed)).data.instance_name_on_toolbox).toBe(name)
    const stopped = await app.api(`/tools/${name}/stop`, { method: "POST" })
    expect(await stopped.json()).toEqual({
      success: true,
      message: `Tool instance '${name}' stopped successfully.`,
      data: { state: { Status: "exited", Running: false } },
    })
    const started = await app.api(`/tools/${encodeURIComponent(name)}/start`, { method: "POST" })
    expect(await started.json()).toEqual({
      success: true,
      message: `Tool instance '${name}' started successfully.`,
      data: { state: { Status: "running", Running: true } },
    })
    const removed = await app.api(`/tools/${encodeURIComponent(name)}`, { method: "DELETE" })
    expect(await removed.json()).toEqual({ success: true, message: `Tool instance '${name}' removed successfully.` })
  })

  it("answers a name with spaces whose container name an unmanaged container holds with a 409, not a 500", async () => {
    const name = "Context7 MCP Server-1750278276605"
    app.runtime.unmanagedNames.add(containerNameFor(name))
    const res = await deploy({ instanceNameOnToolbox: name })
    expect(res.status).toBe(409)
    expect(await res.json()).toEqual({
      success: false,
      error: `Instance name '${name}' maps to container name '${containerNameFor(name)}', which a container not managed by this DTMA already uses.`,
    })
  })

  it("honours portMappings from the override and answers the ports in Docker map form", async () => {
    const res = await deploy(
      override({
        portMappings: [
          { containerPort: 8080, hostPort: 30011 },
          { containerPort: "9090", hostPort: "30012" },
        ],
      }),
    )
    expect(res.status).toBe(201)
    expect((await jsonOf(res)).data.ports).toEqual({
      "8080/tcp": [{ HostIp: "0.0.0.0", HostPort: "30011" }],
      "9090/tcp": [{ HostIp: "0.0.0.0", HostPort: "30012" }],
    })
    const status = await jsonOf(await fetch(`${app.base}/status`))
    expect(status.tool_instances[0].ports.map((p: { PublicPort: number }) => p.PublicPort)).toEqual([30011, 30012])
  })

  for (const transport of ["stdio", "sse", "websocket"]) {
    it(`marks an instance deployed with mcpTransport ${transport} as an MCP server`, async () => {
      // MCP keys make it an MCP server, answered once it is ready: the image must serve MCP.
      const res = await deploy({
        dockerImageUrl: MCP_IMAGE,
        ...override({ mcpTransport: transport, mcpEndpoint: "/mcp", mcpPort: 3000, mcpCapabilities: { tools: true }, dockerImage: MCP_IMAGE }),
      })
      expect(res.status).toBe(201)
      const status = await jsonOf(await fetch(`${app.base}/status`))
      // A stdio server has no endpoint or port of its own.
      const where = transport === "stdio" ? { mcp_endpoint: null, mcp_port: null } : { mcp_endpoint: "/mcp", mcp_port: 3000 }
      expect(status.mcp_servers).toEqual([expect.objectContaining({ instance_name_on_toolbox: "tool-a", mcp_transport: transport, ...where })])
      expect(status.standard_tools).toEqual([])
    })
  }

  it("accepts a body that carries every optional override key the backend has sent", async () => {
    const res = await deploy({
      dockerImageUrl: MCP_IMAGE,
      ...override({
        Env: ["A=1"],
        HostConfig: { PortBindings: { "8080/tcp": [{ HostIp: "0.0.0.0", HostPort: "30021" }] } },
        dockerImage: MCP_IMAGE,
        environmentVariables: { B: "2" },
        portMappings: [{ containerPort: 8081, hostPort: 30022 }],
        mcpTransport: "sse",
        mcpEndpoint: "/sse",
        mcpPort: 8080,
        mcpCapabilities: ["tools", "resources"],
      }),
    })
    expect(res.status).toBe(201)
  })

  it("refuses the DTMA's own port 30000 with a 409 however the old callers asked for it", async () => {
    for (const asked of [
      bindings("30000/tcp", "30000"),
      bindings("8080/tcp", 30000),
      bindings("8080/tcp", "30000", ""),
      override({ portMappings: [{ containerPort: 30000, hostPort: 30000 }] }),
      override({ portMappings: [{ containerPort: "8080", hostPort: "30000" }] }),
    ]) {
      const res = await deploy(asked)
      expect(res.status).toBe(409)
      expect(await res.json()).toEqual({ success: false, error: "Port conflict: Requested HostPort 30000 is the DTMA's own port." })
    }
    expect(app.runtime.containerCount()).toBe(0)
  })

  it("answers a host port a managed instance holds, asked for through portMappings, with the legacy 409", async () => {
    await deploy(bindings("8080/tcp", "30031"))
    const res = await deploy({ instanceNameOnToolbox: "tool-b", ...override({ portMappings: [{ containerPort: 9000, hostPort: 30031 }] }) })
    expect(res.status).toBe(409)
    expect(await res.json()).toEqual({ success: false, error: "Port conflict: Requested HostPort 30031 is already in use by a managed instance." })
  })

  it("removes a container that was created but failed to start, so the retry deploys instead of hitting a name conflict", async () => {
    app.runtime.failNextStart("exec format error")
    const failed = await deploy()
    expect(failed.status).toBeGreaterThanOrEqual(500)
    expect(await failed.json()).toEqual({ success: false, message: "Failed to deploy tool 'tool-a'.", error: expect.any(String) })
    expect(app.runtime.containerCount()).toBe(0)
    expect((await jsonOf(await fetch(`${app.base}/status`))).tool_instances).toEqual([])
    expect((await deploy()).status).toBe(201)
  })

  it("deploys on the retry once the process that held the host port let it go", async () => {
    app.runtime.busyHostPorts.add(30041)
    expect((await deploy(bindings("8080/tcp", "30041"))).status).toBe(409)
    app.runtime.busyHostPorts.delete(30041)
    expect((await deploy(bindings("8080/tcp", "30041"))).status).toBe(201)
  })

  it("answers an unexpected failure with the legacy 500 body: what failed, and why", async () => {
    const dying = await startTestApp({ runtime: new DyingRuntime({ images: [IMAGE] }) })
    try {
      const res = await dying.json("POST", "/tools", deployBody())
      expect(res.status).toBe(500)
      expect(await res.json()).toEqual({ success: false, message: "Failed to deploy tool 'tool-a'.", error: expect.any(String) })
    } finally {
      await dying.close()
    }
  })

  it("answers a HostIp that is not an IP address with a 400 naming the field", async () => {
    const res = await deploy(bindings("8080/tcp", "30051", "not-an-ip"))
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ success: false, error: expect.stringContaining("HostIp"), code: "invalid_request" })
    expect(app.runtime.containerCount()).toBe(0)
  })

  it("answers an environment value Docker cannot pass to a process (a NUL byte) with a 400, never a 5xx", async () => {
    for (const asked of [override({ Env: ["TOOL_A=a\u0000b"] }), override({ environmentVariables: { TOOL_A: "a\u0000b" } })]) {
      const res = await deploy(asked)
      expect(res.status).toBe(400)
      const body = await jsonOf(res)
      expect(body).toMatchObject({ success: false, code: "invalid_request" })
      expect(JSON.stringify(body)).not.toContain("a\\u0000b")
    }
  })

  it("refuses the names '.' and '..', or still manages them through the URL a client builds", async () => {
    for (const name of [".", ".."]) {
      const deployed = await deploy({ instanceNameOnToolbox: name, accountToolInstanceId: `ati-${name.length}` })
      if (deployed.status === 400) continue
      expect(deployed.status).toBe(201)
      const stopped = await app.api(`/tools/${encodeURIComponent(name)}/stop`, { method: "POST" })
      expect(stopped.status).toBe(200)
    }
  })
})

describe("DELETE /tools/:name, POST /tools/:name/start and /stop (legacy contract)", () => {
  it("answers a remove the runtime cannot do in the other-failure shape", async () => {
    await deploy()
    app.runtime.daemonDown = true
    const res = await app.api("/tools/tool-a", { method: "DELETE" })
    expect(res.status).toBeGreaterThanOrEqual(500)
    expect(await res.json()).toEqual({
      success: false,
      message: "Failed to remove tool instance 'tool-a'.",
      error: "The container runtime is unreachable: connect ECONNREFUSED /var/run/docker.sock",
    })
  })

  it("answers a start the runtime cannot reach in the other-failure shape", async () => {
    await deploy()
    app.runtime.daemonDown = true
    const res = await app.api("/tools/tool-a/start", { method: "POST" })
    expect(res.status).toBeGreaterThanOrEqual(500)
    expect(await res.json()).toEqual({
      success: false,
      message: "Failed to start tool instance 'tool-a'.",
      error: "The container runtime is unreachable: connect ECONNREFUSED /var/run/docker.sock",
    })
  })

  it("says an instance that is stopped already is stopped, with its state", async () => {
    await deploy()
    const first = await jsonOf(await app.api("/tools/tool-a/stop", { method: "POST" }))
    const again = await jsonOf(await app.api("/tools/tool-a/stop", { method: "POST" }))
    expect(again).toEqual(first)
    expect(again.message).toBe("Tool instance 'tool-a' stopped successfully.")
  })

  it("answers any unknown name, however it is spelled, with the legacy 404 naming it as decoded once", async () => {
    const names = fc
      .oneof(arbInstanceName, fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }))
      // A URL-normalising client turns these two segments into path navigation before sending.
      .filter((name) => name !== "." && name !== "..")
    await fc.assert(
      fc.asyncProperty(names, fc.constantFrom(["DELETE", ""], ["POST", "/start"], ["POST", "/stop"]), async (name, [method, suffix]) => {
        const res = await app.api(`/tools/${encodeURIComponent(name)}${suffix}`, { method })
        expect(res.status).toBe(404)
        expect(await res.json()).toEqual({ success: false, error: `Tool instance '${name}' not found or not managed by this DTMA.` })
      }),
      { numRuns: 150 },
    )
  })
})

describe("bad input (never a 500)", () => {
  const post = (path: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
    app.api(path, { method: "POST", body, headers })

  it("answers any JSON value as a POST /tools body with a 201 or a 4xx carrying a JSON error", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const res = await post("/tools", JSON.stringify(value))
        expect(res.status === 201 || (res.status >= 400 && res.status < 500)).toBe(true)
        if (res.status !== 201) expect(await jsonOf(res)).toMatchObject({ error: expect.any(String) })
      }),
      { numRuns: 200 },
    )
  })

  it("answers deploy bodies with fields of any shape with a 201 or a 4xx carrying a JSON error", async () => {
    const anyOf = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.jsonValue())
    const port = fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.integer({ min: 0, max: 70000 }).map(String), fc.constant(""), fc.string())
    const overrideArb = fc.record(
      {
        Env: anyOf(
          fc.array(
            fc.oneof(
              fc.string(),
              fc.tuple(fc.stringMatching(/^[A-Z_]{1,8}$/), fc.string()).map(([k, v]) => `${k}=${v}`),
            ),
          ),
        ),
        HostConfig: anyOf(
          fc.record(
            {
              PortBindings: anyOf(
                fc.dictionary(
                  fc.oneof(
                    fc.string(),
                    port.map((p) => `${p}/tcp`),
                  ),
                  anyOf(fc.array(fc.record({ HostIp: anyOf(fc.constantFrom("", "0.0.0.0", "127.0.0.1")), HostPort: anyOf(port) }, { requiredKeys: [] }))),
                ),
              ),
            },
            { requiredKeys: [] },
          ),
        ),
        environmentVariables: anyOf(fc.dictionary(fc.string(), fc.string())),
        portMappings: anyOf(fc.array(fc.record({ containerPort: anyOf(port), hostPort: anyOf(port) }, { requiredKeys: [] }))),
        mcpTransport: anyOf(fc.constantFrom("stdio", "sse", "websocket", "streamable_http")),
        mcpEndpoint: fc.jsonValue(),
        mcpPort: anyOf(port),
        mcpCapabilities: fc.jsonValue(),
        dockerImage: fc.jsonValue(),
      },
      { requiredKeys: [] },
    )
    const body = fc.record(
      {
        dockerImageUrl: fc.oneof(fc.constant(IMAGE), fc.constant("dtma/pullable:1"), fc.constant("dtma/absent:1"), fc.jsonValue()),
        instanceNameOnToolbox: fc.oneof(arbInstanceName, fc.string({ unit: "grapheme" }), fc.jsonValue()),
        accountToolInstanceId: fc.oneof(fc.uuid(), fc.string(), fc.jsonValue()),
        baseConfigOverrideJson: fc.oneof(overrideArb, fc.jsonValue()),
        imagePullPolicy: fc.oneof(fc.constantFrom("if_not_present", "always", "never"), fc.jsonValue()),
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        const res = await post("/tools", JSON.stringify(value))
        expect([201, 400, 409, 422]).toContain(res.status)
        if (res.status !== 201) expect(await jsonOf(res)).toMatchObject({ success: false, error: expect.any(String) })
      }),
      { numRuns: 300 },
    )
  })

  it("answers any text sent as JSON with a 201 or a 4xx carrying a JSON error", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary" }), async (text) => {
        const res = await post("/tools", text)
        expect(res.status === 201 || (res.status >= 400 && res.status < 500)).toBe(true)
        if (res.status !== 201) expect(await jsonOf(res)).toMatchObject({ error: expect.any(String) })
      }),
      { numRuns: 200 },
    )
  })

  it("answers malformed JSON on the start and stop routes with the JSON 400", async () => {
    await deploy()
    for (const path of ["/tools/tool-a/start", "/tools/tool-a/stop"]) {
      const res = await post(path, "{oops")
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ success: false, error: expect.stringMatching(/^Malformed JSON body: /), code: "malformed_json" })
    }
  })

  it("answers a body over 1 MB on any route with the JSON 413, streamed without a length too", async () => {
    await deploy()
    const big = JSON.stringify({ pad: "x".repeat(1024 * 1024 + 10) })
    const tooLarge = { success: false, error: "Request body too large: the limit is 1 MB", code: "payload_too_large" }
    const onStop = await post("/tools/tool-a/stop", big)
    expect(onStop.status).toBe(413)
    expect(await onStop.json()).toEqual(tooLarge)
    const chunks = [JSON.stringify(deployBody({ instanceNameOnToolbox: "streamed" })).slice(0, -1), `,"pad":"${"y".repeat(1024 * 1024)}"}`]
    const stream = new ReadableStream({
      pull(controller) {
        const next = chunks.shift()
        if (next === undefined) controller.close()
        else controller.enqueue(new TextEncoder().encode(next))
      },
    })
    const streamed = await app.api("/tools", { method: "POST", body: stream, headers: { "content-type": "application/json" }, duplex: "half" } as RequestInit)
    expect(streamed.status).toBe(413)
    expect(await streamed.json()).toEqual(tooLarge)
    expect(
      (await jsonOf(await fetch(`${app.base}/status`))).tool_instances.map((t: { instance_name_on_toolbox: string }) => t.instance_name_on_toolbox),
    ).toEqual(["tool-a"])
  })

  it("answers a compressed body that does not decompress with a JSON 4xx, never a 500", async () => {
    for (const encoding of ["gzip", "deflate", "br"]) {
      for (const path of ["/tools", "/tools/tool-a/start"]) {
        const res = await app.api(path, {
          method: "POST",
          body: "definitely not compressed",
          headers: { "content-type": "application/json", "content-encoding": encoding },
        })
        expect({ encoding, path, status: res.status }).toEqual({ encoding, path, status: 400 })
        expect(await jsonOf(res)).toMatchObject({ success: false, error: expect.any(String) })
      }
    }
  })

  it("reads a gzip-compressed body, and still limits what it decompresses to 1 MB", async () => {
    const gz = (value: unknown) => gzipSync(Buffer.from(JSON.stringify(value)))
    const headers = { "content-type": "application/json", "content-encoding": "gzip" }
    expect((await app.api("/tools", { method: "POST", body: gz(deployBody()), headers })).status).toBe(201)
    const bomb = gz(deployBody({ instanceNameOnToolbox: "bomb", pad: "0".repeat(8 * 1024 * 1024) }))
    expect(bomb.length).toBeLessThan(1024 * 1024)
    expect((await app.api("/tools", { method: "POST", body: bomb, headers })).status).toBe(413)
  })
})

describe("routes not carried over (legacy contract)", () => {
  const removed: ReadonlyArray<readonly [string, string]> = [
    ["POST", "/ssh/execute"],
    ["POST", "/restart"],
    ["POST", "/redeploy"],
    ["GET", "/diagnostics/containers"],
    ["GET", "/diagnostics/docker-logs/tool-a"],
    ["POST", "/diagnostics/test-docker"],
  ]

  it("answers the removed routes without a token with the 401 and runs none of them", async () => {
    for (const [method, path] of removed) {
      const res = await fetch(`${app.base}${path}`, {
        method,
        ...(method === "POST" ? { body: '{"command":"id"}', headers: { "content-type": "application/json" } } : {}),
      })
      expect(res.status).toBe(401)
    }
  })

  it("answers the removed routes with a token with a JSON 404", async () => {
    for (const [method, path] of removed) {
      const res = await app.json(method, path, method === "POST" ? { command: "id" } : undefined)
      expect(res.status).toBe(404)
      expect(await res.json()).toEqual({ success: false, error: `Not found: ${method} ${path}` })
    }
  })

  it("answers the last version's /mcp/* routes it does not keep with a JSON 4xx, never a 500", async () => {
    for (const [method, path] of [
      ["POST", "/mcp/groups"],
      ["DELETE", "/mcp/groups/agent-1-mcp"],
      ["GET", "/mcp/health/agent-1-mcp"],
      ["POST", "/mcp/servers/x/restart"],
      ["GET", "/mcp/servers/x/logs"],
      ["POST", "/mcp/credentials/refresh/x"],
      ["GET", "/mcp/templates"],
      ["POST", "/mcp/validate"],
    ] as const) {
      const res = await app.json(method, path, method === "POST" ? { groupId: "agent-1-mcp", servers: [] } : undefined)
      expect(res.status).toBeGreaterThanOrEqual(400)
      expect(res.status).toBeLessThan(500)
      expect(await jsonOf(res)).toMatchObject({ success: false, error: expect.any(String) })
    }
  })
})

interface BackendRequest {
  readonly method: string
  readonly url: string
  readonly authorization: string | undefined
  // oxlint-disable-next-line typescript/no-explicit-any
  readonly body: any
}

/** A stand-in Agentopia backend on loopback: records every request, answers from a script. */
const startBackend = async (answers: Array<number>, fallback = 204) => {
  const requests: Array<BackendRequest> = []
  const server: Server = createServer((req, res) => {
    let text = ""
    req.on("data", (chunk: Buffer) => (text += chunk.toString()))
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization, body: JSON.parse(text || "null") })
      const status = answers.shift() ?? fallback
      if (status === 200) res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}')
      else res.writeHead(status).end()
    })
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/functions/v1`
  return { baseUrl, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

/**
 * The composition root as `main` builds it, but over the fake runtime and metrics: the control plane
 * is the one the real adapters module binds for this configuration.
 */
const composeWithRealBackend = (config: Config, runtime: InMemoryContainerRuntime) => {
  const adapters = new Container({ defaultScope: "Singleton" })
  adapters.load(adaptersModule(config, fakeAgentAccess().access))
  const controlPlane = adapters.get<ControlPlane>(ControlPlane)
  const agentAccess = adapters.get<AgentAccess>(AgentAccess)
  const infrastructure = new ContainerModule(({ bind }) => {
    bind<AgentAccess>(AgentAccess).toConstantValue(agentAccess)
    bind<ContainerRuntime>(ContainerRuntime).toConstantValue(runtime)
    bind<ControlPlane>(ControlPlane).toConstantValue(controlPlane)
    bind<HostMetrics>(HostMetrics).toConstantValue(new FixedHostMetrics())
    bind<McpConnector>(McpConnector).toConstantValue(new InMemoryMcpConnector())
    bind<ContainerLogs>(ContainerLogs).toConstantValue(new InMemoryContainerLogs())
    bind<ContainerEvents>(ContainerEvents).toConstantValue(new InMemoryContainerEvents())
    bind<CredentialSource>(CredentialSource).toConstantValue(new InMemoryCredentialSource())
    bind<CredentialDelivery>(CredentialDelivery).toConstantValue(new InMemoryCredentialDelivery())
    bind<AuditLog>(AuditLog).toConstantValue(new InMemoryAuditLog())
  })
  return buildContainer({ config, logger: capturingLogger().logger, infrastructure })
}

describe("the heartbeat (legacy contract)", () => {
  it("posts to {base}/heartbeat with DTMA_BEARER_TOKEN, an entry per instance with its id and mapped status, and retries an unavailable backend", async () => {
    const backend = await startBackend([503])
    const runtime = new InMemoryContainerRuntime({ images: [IMAGE], now: () => NOW.getTime() })
    const config = loadConfig({
      DTMA_CONFIG_FILE: join(scratch(), "absent.conf"),
      BACKEND_TO_DTMA_API_KEY: "inbound-api-key",
      DTMA_BEARER_TOKEN: "dtma-bearer-token",
      AGENTOPIA_API_BASE_URL: `${backend.baseUrl}/`,
    })
    const container = composeWithRealBackend(config, runtime)
    const server = createApp(container).listen(0, "127.0.0.1")
    await once(server, "listening")
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${base}${path}`, {
        method,
        headers: { authorization: "Bearer inbound-api-key", ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    try {
      const ids = new Map<string, string>()
      for (const name of ["runs", "stopped", "crashed"]) {
        const res = await call(
          "POST",
          "/tools",
          deployBody({ instanceNameOnToolbox: name, accountToolInstanceId: `ati-${name}`, baseConfigOverrideJson: { Env: ["TOOL_SECRET=env-secret-value"] } }),
        )
        ids.set(name, (await jsonOf(res)).data.container_id)
      }
      await call("POST", "/tools/stopped/stop")
      runtime.crash(ids.get("crashed")!, 1)

      await run(bound(container, Tokens.Heartbeat).send())

      expect(backend.requests.map((r) => [r.method, r.url, r.authorization])).toEqual([
        ["POST", "/functions/v1/heartbeat", "Bearer dtma-bearer-token"],
        ["POST", "/functions/v1/heartbeat", "Bearer dtma-bearer-token"],
      ])
      const body = backend.requests[1]!.body
      expect(body.dtma_version).toBe("0.1.0")
      expect(body.system_status).toEqual({
        cpu_load_percent: 3.2,
        memory: { total_bytes: 8000, active_bytes: 3000, free_bytes: 5000, used_bytes: 3000 },
        disk: { mount: "/", total_bytes: 100000, used_bytes: 40000, free_bytes: 60000 },
      })
      const statuses = new Map(body.tool_statuses.map((t: { account_tool_instance_id: string }) => [t.account_tool_instance_id, t]))
      expect(statuses.get("ati-runs")).toMatchObject({
        status_on_toolbox: "running",
        runtime_details: { container_id: ids.get("runs"), image: IMAGE, started_at: NOW.toISOString(), state_details: expect.any(Object) },
      })
      expect(statuses.get("ati-stopped")).toMatchObject({ status_on_toolbox: "stopped", runtime_details: { container_id: ids.get("stopped") } })
      expect(statuses.get("ati-crashed")).toMatchObject({ status_on_toolbox: "error", runtime_details: { container_id: ids.get("crashed") } })
      expect(statuses.size).toBe(3)
      for (const entry of body.tool_statuses) expect(["running", "stopped", "error", "deploying"]).toContain(entry.status_on_toolbox)
      const text = JSON.stringify(backend.requests.map((r) => r.body))
      for (const secret of ["env-secret-value", "inbound-api-key", "dtma-bearer-token"]) expect(text).not.toContain(secret)
    } finally {
      server.closeAllConnections()
      server.close()
      await backend.close()
    }
  })

  it("counts any 2xx answer as delivered and does not retry a 401", async () => {
    const backend = await startBackend([200, 202, 401])
    const config = loadConfig({
      DTMA_CONFIG_FILE: join(scratch(), "absent.conf"),
      DTMA_BEARER_TOKEN: "dtma-bearer-token",
      AGENTOPIA_API_BASE_URL: backend.baseUrl,
    })
    const heartbeat = composeWithRealBackend(config, new InMemoryContainerRuntime()).get<Heartbeat>(Tokens.Heartbeat)
    try {
      await run(heartbeat.send())
      await run(heartbeat.send())
      expect(await failureOf(heartbeat.send())).toMatchObject({ _tag: "ControlPlaneRejected", status: 401 })
      expect(backend.requests).toHaveLength(3)
    } finally {
      await backend.close()
    }
  })

  it("reports once at start and then every 60 s by default", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "setImmediate", "clearImmediate", "Date"] })
    const controlPlane = new RecordingControlPlane()
    const container = buildContainer({
      config: testConfig(),
      logger: capturingLogger().logger,
      infrastructure: fakesModule({ runtime: new InMemoryContainerRuntime(), controlPlane }),
    })
    const loop = startHeartbeatLoop({ heartbeat: bound(container, Tokens.Heartbeat), logger: capturingLogger().logger })
    try {
      await vi.advanceTimersByTimeAsync(100)
      expect(controlPlane.received).toHaveLength(1)
      await vi.advanceTimersByTimeAsync(59_000)
      expect(controlPlane.received).toHaveLength(1)
      await vi.advanceTimersByTimeAsync(1_000)
      expect(controlPlane.received).toHaveLength(2)
      await vi.advanceTimersByTimeAsync(60_000)
      expect(controlPlane.received).toHaveLength(3)
    } finally {
      await loop.stop()
      vi.useRealTimers()
    }
  })
})

// Real processes start in seconds on a loaded machine: give them room.
describe("the dtma process (legacy contract)", { timeout: 60_000 }, () => {
  // No Docker needed: these start the real entry point against a Docker socket that does not exist.
  const noDocker = { DOCKER_HOST: "unix:///nonexistent/dtma-test/docker.sock" }

  it("with no token configured, generates one, says which file holds it, and never prints it", async () => {
    const dtma = await startDtma({ token: null, env: noDocker })
    try {
      const tokenFile = join(dtma.stateDir, "api-token")
      const token = readFileSync(tokenFile, "utf8").trim()
      expect(token.length).toBeGreaterThanOrEqual(32)
      expect(dtma.output()).toContain(tokenFile)
      expect((await fetch(`${dtma.url}/metrics`)).status).toBe(401)
      expect((await fetch(`${dtma.url}/metrics`, { headers: { authorization: "Bearer not-it" } })).status).toBe(403)
      expect((await fetch(`${dtma.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
      expect(dtma.output()).not.toContain(token)
    } finally {
      await dtma.kill("SIGTERM")
    }
  })

  it("starts without a config file, and takes DTMA_AUTH_TOKEN from one when it is there", async () => {
    const missing = await startDtma({ token: "env-token", env: { ...noDocker, DTMA_CONFIG_FILE: "/nonexistent/dtma-test/dtma.conf" } })
    try {
      expect(await (await fetch(`${missing.url}/health`)).text()).toBe("OK")
    } finally {
      await missing.kill("SIGTERM")
    }
    const dir = scratch()
    writeFileSync(join(dir, "dtma.conf"), "DTMA_AUTH_TOKEN=file-only-token\n")
    const older = await startDtma({ token: null, env: { ...noDocker, DTMA_CONFIG_FILE: join(dir, "dtma.conf") } })
    try {
      expect((await fetch(`${older.url}/metrics`, { headers: { authorization: "Bearer file-only-token" } })).status).toBe(200)
      expect(older.output()).not.toContain("file-only-token")
      expect(older.output()).not.toContain("api-token")
    } finally {
      await older.kill("SIGTERM")
    }
  })
})
