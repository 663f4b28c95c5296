import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { deployBody, IMAGE, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

const bindings = (hostPort: string, containerPort = 8080) => ({
  baseConfigOverrideJson: { HostConfig: { PortBindings: { [`${containerPort}/tcp`]: [{ HostIp: "0.0.0.0", HostPort: hostPort }] } } },
})

const deploy = (overrides: Record<string, unknown> = {}) => app.json("POST", "/tools", deployBody(overrides))

const MISSING = { success: false, error: "Missing required fields: dockerImageUrl, instanceNameOnToolbox, accountToolInstanceId" }

describe("POST /tools", () => {
  it("deploys and answers 201 with the legacy body, ports in Docker map form", async () => {
    const res = await deploy(bindings("30001"))
    expect(res.status).toBe(201)
    const body = await res.json()
    expect(body).toEqual({
      success: true,
      message: "Tool 'tool-a' deployed successfully.",
      data: {
        container_id: expect.any(String),
        instance_name_on_toolbox: "tool-a",
        account_tool_instance_id: "ati-1",
        image: IMAGE,
        ports: { "8080/tcp": [{ HostIp: "0.0.0.0", HostPort: "30001" }] },
        state: { Status: "running", Running: true },
      },
    })
  })

  for (const field of ["dockerImageUrl", "instanceNameOnToolbox", "accountToolInstanceId"]) {
    it(`answers 400 listing all three required fields when ${field} is missing`, async () => {
      const res = await deploy({ [field]: undefined })
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual(MISSING)
    })

    it(`counts an empty ${field} as missing`, async () => {
      const res = await deploy({ [field]: "" })
      expect(await res.json()).toEqual(MISSING)
    })
  }

  it("answers 400 with the missing-fields body for an empty POST", async () => {
    const res = await app.api("/tools", { method: "POST" })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual(MISSING)
  })

  it("answers 409 with the legacy body when the name is already managed", async () => {
    await deploy()
    const res = await deploy({ accountToolInstanceId: "ati-2" })
    expect(res.status).toBe(409)
    expect(await res.json()).toEqual({ success: false, error: "Instance with name 'tool-a' already exists." })
  })

  it("answers 409 with the legacy body when a managed instance holds the host port", async () => {
    await deploy(bindings("30001"))
    const res = await deploy({ instanceNameOnToolbox: "tool-b", ...bindings("30001") })
    expect(res.status).toBe(409)
    expect(await res.json()).toEqual({
      success: false,
      error: "Port conflict: Requested HostPort 30001 is already in use by a managed instance.",
    })
  })

  it("refuses the DTMA's own port 30000 with a 409", async () => {
    const res = await deploy(bindings("30000"))
    expect(res.status).toBe(409)
    expect(await res.json()).toEqual({ success: false, error: "Port conflict: Requested HostPort 30000 is the DTMA's own port." })
    expect(app.runtime.containerCount()).toBe(0)
  })

  it("answers 409 when something else on the host holds the port, and leaves no container", async () => {
    app.runtime.busyHostPorts.add(30005)
    const res = await deploy(bindings("30005"))
    expect(res.status).toBe(409)
    expect(await res.json()).toEqual({ success: false, error: "Port conflict: Requested HostPort 30005 is already in use on the host." })
    expect(app.runtime.containerCount()).toBe(0)
  })

  it("answers 409 when an unmanaged container already has the name", async () => {
    app.runtime.unmanagedNames.add("tool-a")
    const res = await deploy()
    expect(res.status).toBe(409)
    expect(await res.json()).toEqual({
      success: false,
      error: "Instance name 'tool-a' maps to container name 'tool-a', which a container not managed by this DTMA already uses.",
    })
  })

  it("deploys a name with spaces and keeps it as the instance name", async () => {
    const res = await deploy({ instanceNameOnToolbox: "Context7 MCP Server-1750278276605" })
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ data: { instance_name_on_toolbox: "Context7 MCP Server-1750278276605" } })
  })

  it("answers an invalid field with a 400 that names it", async () => {
    const res = await deploy({ dockerImageUrl: "Not An Image!" })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      success: false,
      error: "Invalid dockerImageUrl: 'Not An Image!' is not a valid image reference",
      code: "invalid_request",
    })
  })

  it("accepts keys it does not apply, as the legacy agent did, and names them in data.ignoredKeys", async () => {
    const res = await deploy({
      agentNotes: "x",
      baseConfigOverrideJson: {
        Env: ["A=1"],
        Mounts: [{ Type: "bind", Source: "/", Target: "/host" }],
        dockerImage: "other/image:2",
        mcpCapabilities: { tools: true },
        mcpPort: 3000,
        HostConfig: {
          Privileged: true,
          Sysctls: { "net.ipv4.ip_forward": "1" },
          PortBindings: { "8080/tcp": [{ HostIp: "0.0.0.0", HostPort: "30001", HostName: "x" }] },
        },
        portMappings: [{ containerPort: 9090, hostPort: 30002, protocol: "tcp" }],
      },
    })
    expect(res.status).toBe(201)
    const body = (await res.json()) as { data: Record<string, unknown> }
    expect(body.data["ignoredKeys"]).toEqual([
      "agentNotes",
      "baseConfigOverrideJson.Mounts",
      "baseConfigOverrideJson.dockerImage",
      "baseConfigOverrideJson.mcpCapabilities",
      "baseConfigOverrideJson.mcpPort",
      "baseConfigOverrideJson.HostConfig.Privileged",
      "baseConfigOverrideJson.HostConfig.Sysctls",
      "baseConfigOverrideJson.HostConfig.PortBindings.8080/tcp[0].HostName",
      "baseConfigOverrideJson.portMappings[0].protocol",
    ])
    // What was applied is as before: both port sources, the image asked for.
    expect(body.data).toMatchObject({ image: IMAGE, ports: { "8080/tcp": [{ HostPort: "30001" }], "9090/tcp": [{ HostPort: "30002" }] } })
  })

  it("leaves ignoredKeys out when every key was applied, and a dockerImage equal to the image counts as applied", async () => {
    app.credentialSource.setToolSecrets("ati-1", { API_KEY: "from-backend" })
    const res = await deploy({ agentId: "agent-1", imagePullPolicy: "never", baseConfigOverrideJson: { dockerImage: IMAGE, environmentVariables: { A: "1" } } })
    expect(res.status).toBe(201)
    expect(((await res.json()) as { data: Record<string, unknown> }).data).not.toHaveProperty("ignoredKeys")
  })

  it("answers a wrongly typed override key with a 400 that names the field", async () => {
    const res = await deploy({ baseConfigOverrideJson: { Env: "A=1" } })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ success: false, code: "invalid_request", error: expect.stringContaining("baseConfigOverrideJson.Env") })
  })

  it("answers an image that cannot be had with 422 in the other-failure shape", async () => {
    const res = await deploy({ dockerImageUrl: "dtma/absent:1" })
    expect(res.status).toBe(422)
    expect(await res.json()).toEqual({
      success: false,
      message: "Failed to deploy tool 'tool-a'.",
      error: expect.stringContaining("Image 'dtma/absent:1' is not available"),
    })
  })

  it("answers 503 in the other-failure shape when the container runtime is down", async () => {
    app.runtime.daemonDown = true
    const res = await deploy()
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({
      success: false,
      message: "Failed to deploy tool 'tool-a'.",
      error: "The container runtime is unreachable: connect ECONNREFUSED /var/run/docker.sock",
    })
  })

  it("answers 502 in the other-failure shape when the container fails to start", async () => {
    app.runtime.failNextStart("exec format error")
    const res = await deploy()
    expect(res.status).toBe(502)
    expect(await res.json()).toEqual({
      success: false,
      message: "Failed to deploy tool 'tool-a'.",
      error: "The container runtime could not start: exec format error",
    })
  })
})
