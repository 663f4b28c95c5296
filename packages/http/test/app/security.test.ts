import { Effect, Redacted } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { ROUTES } from "../../src/routes/routeTable.ts"
import { mcpBody, startTestApp, TOKEN, type TestApp } from "../support/support.ts"
import { PUBLIC_ROUTES } from "../support/publicRoutes.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
  const standing = await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "standing" }))
  if (standing.status !== 201) throw new Error(`the standing server's deploy answered ${standing.status}`)
})
afterEach(() => app.close())

const concrete = (path: string) => path.replace(":name", "standing").replace(":groupId", "no-such-group")
const MCP_ENDPOINT = ["/mcp-servers/:name/mcp", "/mcp"].flatMap((path) => ["GET", "POST", "DELETE"].map((method) => ({ method, path, public: false })))
const ENDPOINTS = [...ROUTES.map((r) => ({ method: r.method, path: r.path, public: r.public })), ...MCP_ENDPOINT]

const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
  fetch(`${app.base}${concrete(path)}`, {
    method,
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    ...(body === undefined ? {} : { body }),
  })

describe("who may call what", () => {
  it("refuses a request without a valid bearer token on every route but /health, /status and the well-known documents, the MCP endpoint included", async () => {
    expect(ENDPOINTS.filter((e) => e.public).map((e) => `${e.method} ${e.path}`)).toEqual(PUBLIC_ROUTES)
    for (const e of ENDPOINTS) {
      const body = e.method === "GET" ? undefined : "{}"
      const none = await send(e.method, e.path, {}, body)
      const wrong = await send(e.method, e.path, { authorization: `Bearer ${TOKEN}x` }, body)
      const malformed = await send(e.method, e.path, { authorization: `Basic ${TOKEN}` }, body)
      if (e.public) {
        expect([none.status, wrong.status, malformed.status], `${e.method} ${e.path}`).toEqual([200, 200, 200])
        continue
      }
      // On the MCP endpoint an unknown token is an invalid access token (401); elsewhere the legacy 403.
      const wrongStatus = MCP_ENDPOINT.includes(e) ? 401 : 403
      expect([none.status, wrong.status, malformed.status], `${e.method} ${e.path}`).toEqual([401, wrongStatus, 401])
    }
    // Nothing refused did anything: the one server is still there, running.
    expect(app.runtime.containerCount()).toBe(1)
    expect(((await (await app.api("/mcp-servers/standing")).json()) as { data: { healthStatus: string } }).data.healthStatus).toBe("healthy")
  })

  // GET and DELETE bodies are never read, so never buffered.
  it("answers a body over 1 MB with 413 on every route that reads one (every POST), the MCP endpoint included, and acts on none", async () => {
    const big = JSON.stringify({ padding: "x".repeat(1024 * 1024) })
    for (const e of ENDPOINTS.filter((x) => x.method === "POST")) {
      const res = await send(e.method, e.path, { authorization: `Bearer ${TOKEN}` }, big)
      expect(res.status, `${e.method} ${e.path}`).toBe(413)
      expect(await res.json()).toMatchObject({ success: false })
    }
    expect(app.runtime.containerCount()).toBe(1)
  })
})

describe("bodies that reach for a prototype", () => {
  const POLLUTING: ReadonlyArray<readonly [string, string]> = [
    ['{"__proto__":{"polluted":"yes"}}', "__proto__"],
    ['{"dockerImageUrl":"x","baseConfigOverrideJson":{"HostConfig":{"__proto__":{"Privileged":true}}}}', "baseConfigOverrideJson.HostConfig.__proto__"],
    ['{"a":[1,{"\\u005f_proto__":{"polluted":"yes"}}]}', "a[1].__proto__"],
    ['{"constructor":{"prototype":{"polluted":"yes"}}}', "constructor.prototype"],
    ['[{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"constructor":{"prototype":{"polluted":"yes"}}}}]', "[0].params.constructor.prototype"],
  ]

  it("answers a __proto__ or constructor.prototype key with a 400 naming it (not invalid JSON) on every route reading a body; pollutes nothing", async () => {
    for (const e of ENDPOINTS.filter((x) => x.method === "POST")) {
      for (const [body, path] of POLLUTING) {
        const res = await send(e.method, e.path, { authorization: `Bearer ${TOKEN}` }, body)
        const where = `${e.method} ${e.path} ${body}`
        expect(res.status, `${where}`).toBe(400)
        expect(await res.json(), `${where}`).toEqual({
          success: false,
          error: `Forbidden key in JSON body: ${path.endsWith("prototype") ? "'constructor.prototype'" : "'__proto__'"} is not allowed (at ${path})`,
          code: "forbidden_key",
        })
      }
    }
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
    expect(Object.keys(Object.prototype)).toEqual([])
    expect(app.runtime.containerCount()).toBe(1)
  })

  it("still reads a body whose text merely mentions those names", async () => {
    const res = await app.json(
      "POST",
      "/mcp-servers",
      mcpBody({
        instanceNameOnToolbox: "named",
        baseConfigOverrideJson: { Env: ["NOTE=__proto__ constructor prototype"], Labels: { constructor: "x", prototype: "y" } },
      }),
    )
    expect(res.status).toBe(201)
  })
})

/** Overrides that would give a container more than the hardened defaults, and the key each is refused under. */
const WIDENING: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
  [{ HostConfig: { Privileged: true } }, "HostConfig.Privileged"],
  [{ Privileged: true }, "Privileged"],
  [{ HostConfig: { CapAdd: ["SYS_ADMIN"] } }, "HostConfig.CapAdd"],
  [{ HostConfig: { Binds: ["/var/run/docker.sock:/var/run/docker.sock"] } }, "HostConfig.Binds"],
  [{ Binds: ["/:/host"] }, "Binds"],
  [{ HostConfig: { Mounts: [{ Type: "bind", Source: "/var/run/docker.sock", Target: "/var/run/docker.sock" }] } }, "HostConfig.Mounts"],
  [{ HostConfig: { Devices: [{ PathOnHost: "/dev/kmsg", PathInContainer: "/dev/kmsg", CgroupPermissions: "rwm" }] } }, "HostConfig.Devices"],
  [{ HostConfig: { DeviceRequests: [{ Count: -1, Capabilities: [["gpu"]] }] } }, "HostConfig.DeviceRequests"],
  [{ HostConfig: { VolumesFrom: ["other"] } }, "HostConfig.VolumesFrom"],
  [{ HostConfig: { DeviceCgroupRules: ["c 1:3 mr"] } }, "HostConfig.DeviceCgroupRules"],
  [{ HostConfig: { CgroupnsMode: "host" } }, "HostConfig.CgroupnsMode"],
  [{ HostConfig: { NetworkMode: "host" } }, "HostConfig.NetworkMode"],
  [{ HostConfig: { NetworkMode: "container:other" } }, "HostConfig.NetworkMode"],
  [{ HostConfig: { PidMode: "host" } }, "HostConfig.PidMode"],
  [{ HostConfig: { IpcMode: "host" } }, "HostConfig.IpcMode"],
  [{ HostConfig: { UTSMode: "host" } }, "HostConfig.UTSMode"],
  [{ HostConfig: { UsernsMode: "host" } }, "HostConfig.UsernsMode"],
  [{ HostConfig: { SecurityOpt: ["seccomp=unconfined"] } }, "HostConfig.SecurityOpt"],
  [{ HostConfig: { SecurityOpt: ["apparmor=unconfined"] } }, "HostConfig.SecurityOpt"],
  [{ HostConfig: { SecurityOpt: ["no-new-privileges:false"] } }, "HostConfig.SecurityOpt"],
  [{ User: "root" }, "User"],
  [{ User: "0:0" }, "User"],
  [{ User: "00" }, "User"],
  [{ User: "+0:1000" }, "User"],
  [{ User: "1000:0" }, "User"],
  [{ User: "1000:-00" }, "User"],
  [{ User: "nobody:root" }, "User"],
  [{ User: "node" }, "User"],
  [{ HostConfig: { Tmpfs: { "/cache": "size=8m,exec" } } }, "HostConfig.Tmpfs"],
  [{ HostConfig: { Tmpfs: { "/cache": "dev" } } }, "HostConfig.Tmpfs"],
]

describe("privilege-widening overrides", () => {
  it("refuses every privilege-widening override of an MCP server with a 400 naming the key, on deploy and redeploy, and creates nothing", async () => {
    for (const [override, key] of WIDENING) {
      const deploy = await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "widened", baseConfigOverrideJson: override }))
      expect(deploy.status, `${JSON.stringify(override)}`).toBe(400)
      expect(((await deploy.json()) as { error: string }).error, `${JSON.stringify(override)}`).toContain(key)
      const redeploy = await app.json(
        "POST",
        "/mcp-servers/standing/redeploy",
        mcpBody({ instanceNameOnToolbox: "standing", baseConfigOverrideJson: override }),
      )
      expect(redeploy.status, `${JSON.stringify(override)}`).toBe(400)
      expect(((await redeploy.json()) as { error: string }).error, `${JSON.stringify(override)}`).toContain(key)
    }
    expect(app.runtime.containerCount()).toBe(1)
  })
})

describe("keys an MCP server deploy would not apply", () => {
  const NOT_APPLIED: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
    [{ baseConfigOverrideJson: { ReadonlyRootfs: false } }, "baseConfigOverrideJson.ReadonlyRootfs"],
    [{ baseConfigOverrideJson: { HostConfig: { ReadonlyRootfs: false } } }, "baseConfigOverrideJson.HostConfig.ReadonlyRootfs"],
    [{ baseConfigOverrideJson: { HostConfig: { Sysctls: { "net.core.somaxconn": "1024" } } } }, "baseConfigOverrideJson.HostConfig.Sysctls"],
    [{ baseConfigOverrideJson: { HostConfig: { Ulimits: [{ Name: "nofile", Soft: 10, Hard: 10 }] } } }, "baseConfigOverrideJson.HostConfig.Ulimits"],
    [{ baseConfigOverrideJson: { HostConfig: { CgroupParent: "elsewhere" } } }, "baseConfigOverrideJson.HostConfig.CgroupParent"],
    [{ baseConfigOverrideJson: { HostConfig: { OomKillDisable: true } } }, "baseConfigOverrideJson.HostConfig.OomKillDisable"],
    [{ baseConfigOverrideJson: { HostConfig: { MemorySwap: -1 } } }, "baseConfigOverrideJson.HostConfig.MemorySwap"],
    [{ baseConfigOverrideJson: { HostConfig: { PublishAllPorts: true } } }, "baseConfigOverrideJson.HostConfig.PublishAllPorts"],
    [{ baseConfigOverrideJson: { Image: "alpine:3" } }, "baseConfigOverrideJson.Image"],
    [{ baseConfigOverrideJson: { HostConfig: { privileged: true } } }, "baseConfigOverrideJson.HostConfig.privileged"],
    [{ baseConfigOverrideJson: { HostConfig: { PortBindings: { "8080/tcp": [{ HostPort: "" }] } } } }, "baseConfigOverrideJson.HostConfig.PortBindings"],
    [{ mcpTransport: "stdio" }, "mcpTransport"],
  ]

  it("refuses a key POST /mcp-servers would not apply with a 400 naming its path, on deploy and redeploy, and creates nothing", async () => {
    for (const [extra, path] of NOT_APPLIED) {
      const deploy = await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "ignored", ...extra }))
      const redeploy = await app.json("POST", "/mcp-servers/standing/redeploy", mcpBody({ instanceNameOnToolbox: "standing", ...extra }))
      for (const res of [deploy, redeploy]) {
        expect(res.status, `${path}`).toBe(400)
        expect(((await res.json()) as { error: string }).error, `${path}`).toMatch(
          new RegExp(`^Invalid ${path.replace(/\./g, "\\.")}: (is not supported|cannot be published: a stdio server has no network)`),
        )
      }
    }
    expect(app.runtime.containerCount()).toBe(1)
  })
})

describe("where OAuth tokens live, as the API says", () => {
  it("says a server's env_vars tokens persist in Docker's records and file or socket delivery does not, and shows no token", async () => {
    const methods = ["env_vars", "mounted_secrets", "runtime_api"] as const
    for (const method of methods) {
      const deploy = await app.json(
        "POST",
        "/mcp-servers",
        mcpBody({ instanceNameOnToolbox: `oauth-${method}`, agentId: "agent-1", oauthConnectionIds: ["github-1"], credentialInjectionMethod: method }),
      )
      expect(deploy.status, `${method}: ${await deploy.clone().text()}`).toBe(201)
    }
    for (const method of methods) {
      const text = await (await app.api(`/mcp-servers/oauth-${method}`)).text()
      const detail = (JSON.parse(text) as { data: { container: { id: string }; credentials: { injectionMethod: string; persistedByDocker: boolean } } }).data
      expect(detail.credentials).toMatchObject({ injectionMethod: method, persistedByDocker: method === "env_vars" })
      // Tokens minted by the fake backend read `token-<connection>-<n>`: in the environment for env_vars only, never in the answer.
      const env = (await Effect.runPromise(app.runtime.environmentOf(detail.container.id))).map((e) => Redacted.value(e.value))
      expect(env.some((v) => v.startsWith("token-github-1"))).toBe(method === "env_vars")
      expect(text).not.toContain("token-github-1")
    }
  })
})

describe("input the runtime would refuse", () => {
  // Each of these reached Docker and came back as a 502; the port one answered 201, then 502 after the start timeout.
  const MALFORMED: ReadonlyArray<readonly [Record<string, unknown>, string, string]> = [
    [{ baseConfigOverrideJson: { User: " 0" } }, "User", "neither a decimal number nor a user name"],
    [{ baseConfigOverrideJson: { User: "a:b:c" } }, "User", "more than one ':'"],
    [{ baseConfigOverrideJson: { User: "" } }, "User", "is empty"],
    [{ baseConfigOverrideJson: { User: ":1000" } }, "User", "empty user part"],
    [{ baseConfigOverrideJson: { User: "1000:99999999999" } }, "User", "outside 0..2147483647"],
    [{ baseConfigOverrideJson: { HostConfig: { Tmpfs: { "/cache": "size=abc" } } } }, "HostConfig.Tmpfs", "size must be"],
    [{ baseConfigOverrideJson: { HostConfig: { Tmpfs: { "/cache": "mode=999" } } } }, "HostConfig.Tmpfs", "mode must be"],
    [{ baseConfigOverrideJson: { HostConfig: { Tmpfs: { "/cache": "uid=x" } } } }, "HostConfig.Tmpfs", "uid must be"],
    [{ baseConfigOverrideJson: { HostConfig: { Tmpfs: { "/cache": "foo" } } } }, "HostConfig.Tmpfs", "not a tmpfs option"],
    [{ baseConfigOverrideJson: { HostConfig: { Tmpfs: { "/cache": "size=1m," } } } }, "HostConfig.Tmpfs", "empty option"],
    [{ baseConfigOverrideJson: { HostConfig: { Tmpfs: { "/proc": "" } } } }, "HostConfig.Tmpfs", "kernel filesystem"],
    [
      { mcpTransportType: "streamable_http", mcpPort: 3001, baseConfigOverrideJson: { HostConfig: { PortBindings: { "3001/tcp": [{ HostPort: "22" }] } } } },
      "PortBindings",
      "host port 22 cannot carry the server's MCP port 3001: the DTMA calls the server through it with fetch, which refuses port 22",
    ],
  ]

  it("answers a malformed User, a Tmpfs the runtime refuses or a host port fetch cannot call with a 400 saying why, on deploy and redeploy", async () => {
    for (const [extra, field, why] of MALFORMED) {
      const deploy = await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "refused", ...extra }))
      const redeploy = await app.json("POST", "/mcp-servers/standing/redeploy", mcpBody({ instanceNameOnToolbox: "standing", ...extra }))
      for (const res of [deploy, redeploy]) {
        expect(res.status, `${JSON.stringify(extra)}`).toBe(400)
        expect(((await res.json()) as { error: string }).error, `${JSON.stringify(extra)}`).toMatch(
          new RegExp(`^Invalid ${field}: .*${why.replace(/[.()]/g, "\\$&")}`),
        )
      }
    }
    expect(app.runtime.containerCount()).toBe(1)
  })
})
