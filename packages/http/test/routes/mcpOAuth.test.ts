import { Effect, Redacted } from "effect"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { mcpBody, startTestApp, type TestApp } from "../support/support.ts"

let app: TestApp
beforeEach(async () => {
  app = await startTestApp()
})
afterEach(() => app.close())

// JSON bodies are read freely in assertions.
// oxlint-disable-next-line typescript/no-explicit-any
const jsonOf = (res: Response): Promise<any> => res.json()
const oauthBody = (overrides: Record<string, unknown> = {}) => mcpBody({ agentId: "agent-1", oauthConnectionIds: ["github-1"], ...overrides })
const tokensIn = (of: TestApp, name: string) => (of.credentialDelivery.deliveredTo(name)?.credentials ?? []).map((c) => Redacted.value(c.accessToken))

describe("OAuth credentials of MCP servers", () => {
  it("deploys a server with its token in files it reads, and says where, never what", async () => {
    const res = await app.json("POST", "/mcp-servers", oauthBody())
    expect(res.status).toBe(201)
    expect(app.credentialDelivery.read("mcp-a").files).toMatchObject({
      "github/access_token": "token-github-1-1",
      "connections/github-1/access_token": "token-github-1-1",
    })
    const spec = app.runtime.specOf((await jsonOf(res)).data.containerId)
    expect(spec?.mounts).toEqual([{ hostPath: expect.stringContaining("/secrets/"), containerPath: "/run/secrets/dtma" }])
    expect(spec?.env.map((e) => [e.name, Redacted.value(e.value)])).toEqual([["OAUTH_GITHUB_TOKEN_FILE", "/run/secrets/dtma/github/access_token"]])
    const detail = await jsonOf(await app.api("/mcp-servers/mcp-a"))
    expect(detail.data.oauth).toEqual([
      { connectionId: "github-1", provider: "github", status: "valid", expiresAt: expect.any(String), refreshedAt: expect.any(String), lastError: null },
    ])
    expect(detail.data.credentials).toEqual({
      injectionMethod: "mounted_secrets",
      refreshStrategy: "on_expiry",
      refreshIntervalSeconds: null,
      persistedByDocker: false,
    })
    expect(JSON.stringify(detail)).not.toContain("token-github")
  })

  it("gives an env_vars server the names servers expect, and says that Docker keeps them", async () => {
    const res = await app.json("POST", "/mcp-servers", oauthBody({ credentialInjectionMethod: "env_vars" }))
    expect(res.status).toBe(201)
    const env = new Map(app.runtime.specOf((await jsonOf(res)).data.containerId)?.env.map((e) => [e.name, Redacted.value(e.value)]))
    for (const name of ["OAUTH_GITHUB_ACCESS_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"]) expect(env.get(name)).toBe("token-github-1-1")
    expect(env.get("OAUTH_GITHUB_SCOPES")).toBe("repo")
    expect((await jsonOf(await app.api("/mcp-servers/mcp-a"))).data.credentials.persistedByDocker).toBe(true)
  })

  it("says in the deploy's and the redeploy's answers, as GET does, whether Docker keeps the token", async () => {
    const kept = { injectionMethod: "env_vars", refreshStrategy: "on_expiry", refreshIntervalSeconds: null, persistedByDocker: true }
    const deployed = await jsonOf(await app.json("POST", "/mcp-servers", oauthBody({ credentialInjectionMethod: "env_vars" })))
    expect(deployed.data.credentials).toEqual(kept)
    expect((await jsonOf(await app.api("/mcp-servers/mcp-a"))).data.credentials).toEqual(kept)
    const redeployed = await jsonOf(await app.json("POST", "/mcp-servers/mcp-a/redeploy", oauthBody({ credentialInjectionMethod: "env_vars" })))
    expect(redeployed.data.credentials).toEqual(kept)
    const files = await jsonOf(await app.json("POST", "/mcp-servers", oauthBody({ instanceNameOnToolbox: "mcp-b", accountToolInstanceId: "ati-b" })))
    expect(files.data.credentials).toEqual({ ...kept, injectionMethod: "mounted_secrets", persistedByDocker: false })
    const plain = await jsonOf(await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "mcp-c", accountToolInstanceId: "ati-c" })))
    expect(plain.data.credentials).toBeNull()
  })

  it("refreshes on request, delivering the new token before answering, and never returns one", async () => {
    await app.json("POST", "/mcp-servers", oauthBody({ oauthConnectionIds: ["github-1", "slack-1"], credentialInjectionMethod: "runtime_api" }))
    const res = await app.json("POST", "/mcp-servers/mcp-a/oauth/refresh")
    expect(res.status).toBe(200)
    const body = await jsonOf(res)
    expect(body).toEqual({
      success: true,
      message: "OAuth credentials of MCP server 'mcp-a' refreshed.",
      data: {
        instanceName: "mcp-a",
        connections: [
          { connectionId: "github-1", provider: "github", status: "valid", expiresAt: expect.any(String), refreshedAt: expect.any(String) },
          { connectionId: "slack-1", provider: "slack", status: "valid", expiresAt: expect.any(String), refreshedAt: expect.any(String) },
        ],
      },
    })
    expect(tokensIn(app, "mcp-a")).toEqual(["token-github-1-3", "token-slack-1-4"])
    expect(JSON.stringify(body)).not.toContain("token-")
  })

  it("answers a refresh of an unknown server with 404 and of a server without OAuth with 409", async () => {
    expect((await app.json("POST", "/mcp-servers/nobody/oauth/refresh")).status).toBe(404)
    await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "plain" }))
    const res = await app.json("POST", "/mcp-servers/plain/oauth/refresh")
    expect(res.status).toBe(409)
    expect(await jsonOf(res)).toEqual({ success: false, error: "MCP server 'plain' has no OAuth connections.", code: "no_oauth_connections" })
  })

  it("answers a refresh the backend refuses with 502 naming the connection, keeping the delivered token", async () => {
    await app.json("POST", "/mcp-servers", oauthBody())
    app.credentialSource.requireReauthorization("github-1")
    const res = await app.json("POST", "/mcp-servers/mcp-a/oauth/refresh")
    expect(res.status).toBe(502)
    expect(await jsonOf(res)).toEqual({
      success: false,
      message: "Failed to refresh the OAuth credentials of MCP server 'mcp-a'.",
      error: "The backend refused or failed to hand out credentials for connection 'github-1' (reauthorization_required): the user must sign in again",
      code: "oauth_reauthorization_required",
    })
    expect(tokensIn(app, "mcp-a")).toEqual(["token-github-1-1"])
    const status = await jsonOf(await app.api("/status"))
    expect(status.mcp_summary.oauth).toEqual({ valid: 0, expiring: 0, failed: 1 })
  })

  it.each([
    ["forbidden", 502, "oauth_forbidden"],
    ["unauthorized", 502, "oauth_unauthorized"],
    ["unavailable", 502, "oauth_unavailable"],
    ["timeout", 502, "oauth_timeout"],
  ] as const)(
    "answers a deploy whose credentials the backend refuses (%s) with %i, leaving no container and nothing delivered",
    async (reason, status, code) => {
      app.credentialSource.failNext(reason)
      const res = await app.json("POST", "/mcp-servers", oauthBody())
      expect(res.status).toBe(status)
      expect(await jsonOf(res)).toMatchObject({
        success: false,
        message: "Failed to deploy MCP server 'mcp-a'.",
        code,
        error: expect.stringContaining(`(${reason})`),
      })
      expect(app.runtime.containerCount()).toBe(0)
      expect(app.credentialDelivery.calls).toEqual([])
    },
  )

  it("answers a deploy naming a connection the backend does not know with 502 naming it", async () => {
    const res = await app.json("POST", "/mcp-servers", oauthBody({ oauthConnectionIds: ["github-1", "gone-1"] }))
    expect(res.status).toBe(502)
    expect((await jsonOf(res)).error).toBe("The backend refused or failed to hand out credentials for connection 'gone-1' (not_found): no such connection")
    expect(app.runtime.containerCount()).toBe(0)
  })

  it("wipes the delivered token when the server does not become ready, and when it is removed", async () => {
    const broken = await app.json("POST", "/mcp-servers", oauthBody({ dockerImageUrl: "dtma/mcp-broken:1" }))
    expect(broken.status).toBe(502)
    expect(app.credentialDelivery.deliveredTo("mcp-a")).toBeUndefined()
    expect(app.runtime.containerCount()).toBe(0)
    expect((await app.json("POST", "/mcp-servers", oauthBody())).status).toBe(201)
    expect((await app.json("DELETE", "/mcp-servers/mcp-a")).status).toBe(200)
    expect(app.credentialDelivery.deliveredTo("mcp-a")).toBeUndefined()
  })

  it("never touches a deployed server's credentials when a second deploy of its name is refused", async () => {
    expect((await app.json("POST", "/mcp-servers", oauthBody())).status).toBe(201)
    expect((await app.json("POST", "/mcp-servers", oauthBody())).status).toBe(409)
    expect(tokensIn(app, "mcp-a")).toEqual(["token-github-1-1"])
  })

  it("refuses a delivery the credential store cannot make with 503, leaving no container", async () => {
    app.credentialDelivery.failNext("not_memory_backed")
    const res = await app.json("POST", "/mcp-servers", oauthBody())
    expect(res.status).toBe(503)
    expect(await jsonOf(res)).toMatchObject({ code: "credential_delivery_failed" })
    expect(app.runtime.containerCount()).toBe(0)
  })

  it("shows connection states, never tokens, in discovery, /status and the heartbeat", async () => {
    await app.json("POST", "/mcp-servers", oauthBody())
    const discovery = await jsonOf(await app.api("/mcp-servers/discovery"))
    expect(discovery.data.servers[0].oauth).toEqual([{ connectionId: "github-1", provider: "github", status: "valid", expiresAt: expect.any(String) }])
    const status = await jsonOf(await app.api("/status"))
    expect(status.mcp_summary.oauth).toEqual({ valid: 1, expiring: 0, failed: 0 })
    for (const body of [discovery, status]) expect(JSON.stringify(body)).not.toContain("token-github")
    expect(app.logs.join("\n")).not.toContain("token-github")
  })

  it("renews an adopted env_vars server's token in a container made as the first was: same command, overrides and ports", async () => {
    const override = {
      Cmd: ["serve", "--root", "/data"],
      WorkingDir: "/srv",
      Labels: { team: "search" },
      HostConfig: { Memory: 268_435_456, PortBindings: { "9090/tcp": [{ HostPort: "" }] } },
    }
    // A network server: a stdio one has no ports to publish.
    const res = await app.json(
      "POST",
      "/mcp-servers",
      oauthBody({
        mcpTransportType: "streamable_http",
        mcpPort: 9090,
        credentialInjectionMethod: "env_vars",
        baseConfigOverrideJson: override,
        imagePullPolicy: "never",
      }),
    )
    expect(res.status).toBe(201)
    const firstId: string = (await jsonOf(res)).data.containerId
    const first = app.runtime.specOf(firstId)!
    // The DTMA restarts: the next one adopts the server, knowing only what its container says.
    await app.close()
    app = await startTestApp({ runtime: app.runtime })
    await Effect.runPromise(app.mcpServers.adopt())
    await vi.waitFor(async () =>
      expect((await jsonOf(await app.api("/mcp-servers/mcp-a"))).data.oauth).toMatchObject([{ connectionId: "github-1", status: "valid" }]),
    )
    expect((await app.json("POST", "/mcp-servers/mcp-a/oauth/refresh")).status).toBe(200)
    const { data } = await jsonOf(await app.api("/mcp-servers/mcp-a"))
    const replacement = app.runtime.specOf(data.container.id)!
    expect(data.container.id).not.toBe(firstId)
    expect({ command: replacement.command, overrides: replacement.overrides, ports: replacement.ports, pullPolicy: replacement.pullPolicy }).toEqual({
      command: first.command,
      overrides: first.overrides,
      ports: first.ports,
      pullPolicy: first.pullPolicy,
    })
    expect(first).toMatchObject({
      command: ["serve", "--root", "/data"],
      ports: [{ containerPort: 9090, hostPort: null }],
      overrides: { workingDir: "/srv", memoryBytes: 268_435_456 },
    })
    expect(new Map(replacement.env.map((e) => [e.name, Redacted.value(e.value)])).get("GITHUB_TOKEN")).toMatch(/^token-github-1-/)
  })

  it("masks the token a server prints in its logs, as it masks the values of its environment", async () => {
    const { data } = await jsonOf(await app.json("POST", "/mcp-servers", oauthBody({ credentialInjectionMethod: "runtime_api" })))
    app.containerLogs.append(data.containerId, "stderr", "using token token-github-1-1 for api.github.com")
    const logs = await jsonOf(await app.api("/mcp-servers/mcp-a/logs"))
    expect(logs.data.lines.at(-1).text).toBe("using token ******** for api.github.com")
  })

  it("refuses a root or malformed User before fetching any token, and delivers to the user however its ids are spelled", async () => {
    for (const User of ["00", "1000:-0", "a:b:c"]) {
      const res = await app.json("POST", "/mcp-servers", oauthBody({ baseConfigOverrideJson: { User } }))
      expect([res.status, (await jsonOf(res)).error]).toEqual([400, expect.stringMatching(/^Invalid User: /)])
    }
    expect(app.credentialSource.calls).toEqual([])
    expect((await app.json("POST", "/mcp-servers", oauthBody({ baseConfigOverrideJson: { User: "+01000:0065534" } }))).status).toBe(201)
    expect(app.credentialDelivery.deliveredTo("mcp-a")?.owner).toEqual({ uid: 1000, gid: 65534 })
  })

  it("refuses OAuth for an agentless request, a bad refresh schedule and env_vars with a fixed host port with 400s saying why", async () => {
    const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
      [{ agentId: undefined }, "Invalid agentId: is required when OAuth connections are given"],
      [{ oauthConnectionIds: ["../etc"] }, "Invalid oauthConnectionIds: '../etc' is not a connection id (letters, digits, '.', '_', '-'; at most 128)"],
      [{ oauthConnectionIds: ["github-1", "github-1"] }, "Invalid oauthConnectionIds: names a connection more than once"],
      [{ refreshStrategy: "periodic", refreshIntervalSeconds: 2 }, "Invalid refreshIntervalSeconds: 2 is outside 10..86400 seconds"],
      [{ refreshStrategy: "on_demand", refreshIntervalSeconds: 60 }, "Invalid refreshIntervalSeconds: is only used with periodic refreshes"],
      [
        {
          mcpTransportType: "streamable_http",
          credentialInjectionMethod: "env_vars",
          baseConfigOverrideJson: { HostConfig: { PortBindings: { "9090/tcp": [{ HostPort: "19090" }] } } },
        },
        "Invalid PortBindings: host port 19090 cannot be fixed with env_vars delivery: " +
          "each token renewal starts a replacement container beside the running one, " +
          "and both cannot hold one host port. Leave the host port unset (clients reach the server through the DTMA's endpoint), " +
          "or deliver by mounted_secrets or runtime_api",
      ],
    ]
    for (const [overrides, error] of cases) {
      const res = await app.json("POST", "/mcp-servers", oauthBody(overrides))
      expect([res.status, (await jsonOf(res)).error]).toEqual([400, error])
    }
    expect(app.runtime.containerCount()).toBe(0)
    expect(app.credentialSource.calls).toEqual([])
  })
})
