import { Effect, Exit, Redacted } from "effect"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { afterEach, describe, expect, it } from "vitest"
import { echoMcpServer, type McpServerFactory } from "@dtma/testing"
import { MASK, McpConnectFailed, sameImage, type ManagedContainer, type McpServerGone, type McpServers } from "../../src/index.ts"
import { callEcho, droplet, request } from "./mcpDroplet.ts"

let d: ReturnType<typeof droplet>
let closed: typeof d | undefined
afterEach(async () => {
  if (d === closed) return
  closed = d
  await d.vt.close()
})
const setUp = async (options: Parameters<typeof droplet>[0] = {}) => {
  d = droplet(options)
  return (await d.start()).mcp
}

describe("reading an MCP server", () => {
  it("reads it when the effect runs, not when it was built: an effect made before the deploy finds the server after it", async () => {
    const mcp = await setUp()
    const get = mcp.get("echo-server")
    const session = mcp.session("echo-server")
    await d.vt.run(mcp.deploy(request()))
    expect(await d.vt.run(get)).toMatchObject({ instanceName: "echo-server", healthStatus: "healthy" })
    expect((await d.vt.run(session)).isOpen()).toBe(true)
  })
})

describe("listing MCP servers", () => {
  it("gives the same list while no server changed, and a change in the next one", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(request({ name: "b-server" })))
    await d.vt.run(mcp.deploy(request({ name: "a-server", accountToolInstanceId: "ati-2" })))
    const first = mcp.list()
    expect(first.map((v) => [v.instanceName, v.healthStatus])).toEqual([
      ["a-server", "healthy"],
      ["b-server", "healthy"],
    ])
    expect(mcp.list()).toBe(first)
    await d.vt.run(mcp.stop("b-server"))
    expect(mcp.list().map((v) => [v.instanceName, v.healthStatus])).toEqual([
      ["a-server", "healthy"],
      ["b-server", "stopped"],
    ])
    await d.vt.run(mcp.remove("a-server"))
    expect(mcp.list().map((v) => v.instanceName)).toEqual(["b-server"])
  })
})

describe("deploying an MCP server", () => {
  it("answers once it is initialized and listed, healthy, with its tools discovered", async () => {
    const mcp = await setUp()
    const view = await d.vt.run(mcp.deploy(request()))
    expect(view).toMatchObject({
      instanceName: "echo-server",
      healthStatus: "healthy",
      transportType: "stdio",
      restartCount: 0,
      lastHealthCheck: new Date(d.vt.now()).toISOString(),
    })
    expect(view.capabilities?.tools.map((t) => t["name"])).toEqual(["echo"])
    expect(view.capabilities?.serverInfo).toMatchObject({ name: "dtma-echo" })
    expect(await d.vt.run(callEcho(mcp, "echo-server", "hi"))).toEqual({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "hi" }] } })
  })

  it("rolls back a server that never answers, saying why with its stderr tail, and leaves no container", async () => {
    const mcp = await setUp()
    const create = d.runtime.create.bind(d.runtime)
    d.runtime.create = (spec, options) =>
      create(spec, options).pipe(
        Effect.tap((c) =>
          Effect.sync(() => {
            d.logs.addContainer(c.containerId)
            d.logs.append(c.containerId, "stderr", "Error: missing API key")
          }),
        ),
      )
    const error = await d.vt.failure(mcp.deploy(request({ image: "mcp/silent:1" })))
    expect(error).toMatchObject({ _tag: "McpServerNotReady", name: "echo-server", stderrTail: ["Error: missing API key"] })
    expect(error.message).toContain("Error: missing API key")
    expect(d.runtime.containerCount()).toBe(0)
    expect(mcp.list()).toEqual([])
    expect(mcp.isMcpServer("echo-server")).toBe(false)
  })

  it("refuses a deploy without MCP settings", async () => {
    const mcp = await setUp()
    expect(await d.vt.failure(mcp.deploy(request({ mcp: null })))).toMatchObject({ _tag: "InvalidInstanceSpec", field: "transport" })
  })

  it("refuses a second deploy of a name while the first is under way, and deploys one container", async () => {
    const mcp = await setUp()
    const [first, second] = await Promise.all([d.vt.run(Effect.result(mcp.deploy(request()))), d.vt.run(Effect.result(mcp.deploy(request())))])
    expect([first._tag, second._tag].sort()).toEqual(["Failure", "Success"])
    expect(JSON.stringify([first, second])).toContain("InstanceAlreadyExists")
    expect(d.runtime.containerCount()).toBe(1)
  })
})

describe("supervising an MCP server", () => {
  it("notices a crash, restarts the container with backoff and is healthy again", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(request()))
    await d.crash(mcp, "echo-server")
    await d.until(mcp, "echo-server", (v) => v.healthStatus === "healthy" && v.restartCount === 1)
    const view = await d.vt.run(mcp.get("echo-server"))
    expect(view.lastError).toBe("container exited with code 1")
    expect(view.healthHistory.map((h) => h.status)).toEqual(["healthy", "unhealthy", "starting", "healthy"])
    expect(await d.vt.run(callEcho(mcp, "echo-server", "again"))).toMatchObject({ result: { content: [{ text: "again" }] } })
  })

  it("stops restarting a crash-looping server and says why", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(request()))
    for (let i = 1; i <= 3; i++) {
      await d.until(mcp, "echo-server", (v) => v.healthStatus === "healthy")
      await d.crash(mcp, "echo-server")
    }
    await d.until(mcp, "echo-server", (v) => v.lastError?.includes("crashed 3 times") === true)
    expect(await d.vt.run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "unhealthy", restartCount: 2 })
    await d.vt.advance(60_000)
    expect((await d.vt.run(mcp.get("echo-server"))).restartCount).toBe(2)
    expect(await d.vt.failure(mcp.session("echo-server"))).toMatchObject({ _tag: "McpServerUnavailable", health: "unhealthy" })
  })

  it("reconnects when only the connection is lost, without restarting the container", async () => {
    const mcp = await setUp()
    const { containerId } = await d.vt.run(mcp.deploy(request()))
    await d.connector.crash(containerId, "attach stream broke")
    await d.until(mcp, "echo-server", (v) => v.healthStatus === "healthy" && v.lastError === "connection lost: attach stream broke")
    expect(await d.vt.run(mcp.get("echo-server"))).toMatchObject({ restartCount: 0, containerId })
    expect(await d.vt.run(callEcho(mcp, "echo-server", "back"))).toMatchObject({ result: { content: [{ text: "back" }] } })
  })

  it("re-reads the runtime when the event feed had a gap, so a crash it missed is still handled", async () => {
    const mcp = await setUp()
    const { containerId } = await d.vt.run(mcp.deploy(request()))
    d.events.breakFeed()
    d.runtime.crash(containerId, 137)
    await d.connector.crash(containerId)
    d.events.restoreFeed()
    await d.until(mcp, "echo-server", (v) => v.healthStatus === "healthy" && v.restartCount === 1)
    expect(await d.vt.run(mcp.get("echo-server"))).toMatchObject({ lastError: "container exited with code 137", containerId })
  })

  it("refreshes discovery when the server says its tool list changed", async () => {
    let server: McpServer | undefined
    const mcp = await setUp({ servers: { "mcp/echo:1": () => (server = echoMcpServer()) } })
    await d.vt.run(mcp.deploy(request()))
    server?.registerTool("added", { description: "new" }, () => ({ content: [] }))
    await d.until(mcp, "echo-server", (v) => v.capabilities?.tools.length === 2)
    expect((await d.vt.run(mcp.get("echo-server"))).capabilities?.tools.map((t) => t["name"])).toEqual(["echo", "added"])
  })

  it("pings a healthy server on a pace that slows as it stays healthy, and records the answer", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(request()))
    const before = d.vt.now()
    await d.until(mcp, "echo-server", (v) => v.pingLatencyMs !== null)
    const first = await d.vt.run(mcp.get("echo-server"))
    // testSupervision pings every 20 ms ±20%.
    expect(Date.parse(first.lastHealthCheck!) - before).toBeLessThanOrEqual(30)
    expect(first).toMatchObject({ healthStatus: "healthy", pingLatencyMs: 0 })
  })
})

describe("managing an MCP server", () => {
  it("stops it without restarting it, and starts it healthy again", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(request()))
    expect(await d.vt.run(mcp.stop("echo-server"))).toMatchObject({ healthStatus: "stopped", containerState: "exited" })
    expect(await d.vt.failure(mcp.session("echo-server"))).toMatchObject({ _tag: "McpServerUnavailable", health: "stopped" })
    await d.vt.advance(60_000)
    expect((await d.vt.run(mcp.get("echo-server"))).restartCount).toBe(0)
    expect(await d.vt.run(mcp.start("echo-server"))).toMatchObject({ healthStatus: "healthy", containerState: "running" })
    expect(await d.vt.run(mcp.restart("echo-server"))).toMatchObject({ healthStatus: "healthy", restartCount: 1 })
  })

  it("removes it and its container", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(request()))
    await d.vt.run(mcp.remove("echo-server"))
    expect(mcp.list()).toEqual([])
    expect(d.runtime.containerCount()).toBe(0)
    expect(d.connector.openChannels((await d.vt.run(d.runtime.list()))[0]?.containerId ?? "none")).toBe(0)
    expect(await d.vt.failure(mcp.get("echo-server"))).toMatchObject({ _tag: "InstanceNotFound" })
  })

  it("is adopted, healthy and callable by the next DTMA after a restart", async () => {
    d = droplet()
    const first = await d.start()
    await d.vt.run(first.mcp.deploy(request()))
    await d.vt.run(first.mcp.deploy(request({ name: "stopped-one" })))
    await d.vt.run(first.mcp.stop("stopped-one"))
    await first.stop()
    const { mcp: next } = await d.start()
    await d.vt.run(d.instances.reconcile())
    expect(await d.vt.run(next.adopt())).toEqual(["echo-server", "stopped-one"])
    expect(await d.vt.run(next.get("echo-server"))).toMatchObject({ healthStatus: "healthy" })
    expect(await d.vt.run(next.get("stopped-one"))).toMatchObject({ healthStatus: "stopped" })
    expect(await d.vt.run(callEcho(next, "echo-server", "adopted"))).toMatchObject({ result: { content: [{ text: "adopted" }] } })
    expect(d.runtime.containerCount()).toBe(2)
  })
})

describe("redeploying an MCP server", () => {
  const v2: McpServerFactory = () => {
    const server = new McpServer({ name: "dtma-echo", version: "2.0.0" })
    server.registerTool("echo", { description: "Answers its text, louder." }, () => ({ content: [{ type: "text", text: "v2" }] }))
    return server
  }

  it("moves traffic to the new image with no failed call, then removes the old container", async () => {
    const mcp = await setUp({ servers: { "mcp/echo:1": echoMcpServer, "mcp/echo:2": v2 } })
    const before = await d.vt.run(mcp.deploy(request()))
    const traffic = { calling: true }
    const answers: Array<unknown> = []
    const caller = (async () => {
      for (let i = 0; traffic.calling; i++) {
        answers.push(await d.vt.run(Effect.result(callEcho(mcp, "echo-server", `call-${i}`))))
        await new Promise((r) => setImmediate(r))
      }
    })()
    const after = await d.vt.run(mcp.redeploy(request({ image: "mcp/echo:2" })))
    await d.vt.advance(20)
    traffic.calling = false
    await caller
    expect(after).toMatchObject({ image: "mcp/echo:2", healthStatus: "healthy", capabilities: { serverInfo: { version: "2.0.0" } } })
    expect(after.containerId).not.toBe(before.containerId)
    expect(answers.length).toBeGreaterThan(5)
    expect(answers.filter((a) => (a as { _tag: string })._tag !== "Success" || "error" in (a as { success: object }).success)).toEqual([])
    expect(JSON.stringify(answers.at(-1))).toContain("v2")
    expect((await d.vt.run(d.runtime.list())).map((c) => c.containerId)).toEqual([after.containerId])
  })

  it("keeps the old container serving when the replacement never becomes ready", async () => {
    const mcp = await setUp()
    const before = await d.vt.run(mcp.deploy(request()))
    expect(await d.vt.failure(mcp.redeploy(request({ image: "mcp/silent:1" })))).toMatchObject({ _tag: "McpServerNotReady" })
    expect(await d.vt.run(mcp.get("echo-server"))).toMatchObject({ containerId: before.containerId, healthStatus: "healthy", image: "mcp/echo:1" })
    expect(d.runtime.containerCount()).toBe(1)
    expect(await d.vt.run(callEcho(mcp, "echo-server", "still"))).toMatchObject({ result: { content: [{ text: "still" }] } })
  })

  it("refuses to redeploy a server that does not exist", async () => {
    const mcp = await setUp()
    expect(await d.vt.failure(mcp.redeploy(request()))).toMatchObject({ _tag: "InstanceNotFound" })
  })
})

describe("what an MCP server prints", () => {
  it("is shown with the values it was given masked, in its logs and in a rollback's error", async () => {
    const mcp = await setUp()
    const create = d.runtime.create.bind(d.runtime)
    d.runtime.create = (spec, options) =>
      create(spec, options).pipe(
        Effect.tap((c) =>
          Effect.sync(() => {
            d.logs.addContainer(c.containerId)
            d.logs.append(c.containerId, "stderr", `using key sk-live-0123456789 for ${spec.name}`)
          }),
        ),
      )
    const secretEnv = [{ name: "API_KEY", value: Redacted.make("sk-live-0123456789") }]
    await d.vt.run(mcp.deploy(request({ env: secretEnv })))
    const lines = await d.vt.run(mcp.logs("echo-server", 10))
    expect(lines).toEqual([{ stream: "stderr", text: "using key ******** for echo-server" }])
    const error = await d.vt.failure(mcp.deploy(request({ name: "silent", image: "mcp/silent:1", env: secretEnv })))
    expect(error.message).toContain("using key ******** for silent")
    expect(error.message).not.toContain("sk-live")
  })
})

describe("the servers whose client sessions must end", () => {
  const v2: McpServerFactory = () => new McpServer({ name: "dtma-echo", version: "2.0.0" })
  const watching = (mcp: McpServers) => {
    const gone: Array<McpServerGone> = []
    mcp.subscribeGone((g) => void gone.push(g))
    return gone
  }

  it("are those removed, by a call or behind the DTMA's back, and not those stopped, started, restarted or whose supervision ended", async () => {
    d = droplet()
    const first = await d.start()
    const mcp = first.mcp
    const gone = watching(mcp)
    await d.vt.run(mcp.deploy(request()))
    await d.vt.run(mcp.deploy(request({ name: "elsewhere" })))
    await d.vt.run(mcp.restart("echo-server"))
    await d.vt.run(mcp.stop("echo-server"))
    await d.vt.run(mcp.start("echo-server"))
    expect(gone).toEqual([])
    await d.vt.run(mcp.remove("echo-server"))
    expect(gone).toEqual([{ name: "echo-server", reason: "removed" }])
    const { containerId } = await d.vt.run(mcp.get("elsewhere"))
    await d.vt.run(d.runtime.remove(containerId))
    d.events.emit({ kind: "destroy", containerId, name: "elsewhere", exitCode: null, at: d.vt.now() })
    await d.vt.advance(0)
    expect(gone).toEqual([
      { name: "echo-server", reason: "removed" },
      { name: "elsewhere", reason: "removed" },
    ])
    await d.vt.run(mcp.deploy(request({ name: "lives-on" })))
    await first.stop()
    expect(gone).toHaveLength(2)
  })

  it("are those a redeploy replaced by a different image, once traffic moved, and not those redeployed with the same image under any tag", async () => {
    const mcp = await setUp({ servers: { "mcp/echo:1": echoMcpServer, "mcp/echo:retagged": echoMcpServer, "mcp/echo:2": v2 } })
    d.runtime.tag("mcp/echo:1", "mcp/echo:retagged")
    const gone = watching(mcp)
    await d.vt.run(mcp.deploy(request()))
    await d.vt.run(mcp.redeploy(request()))
    await d.vt.run(mcp.redeploy(request({ image: "mcp/echo:retagged" })))
    expect(await d.vt.failure(mcp.redeploy(request({ image: "mcp/silent:1" })))).toMatchObject({ _tag: "McpServerNotReady" })
    expect(gone).toEqual([])
    const movedFirst: Array<string> = []
    mcp.subscribeGone(() => void movedFirst.push(Effect.runSync(mcp.session("echo-server")).hello.serverInfo.version))
    await d.vt.run(mcp.redeploy(request({ image: "mcp/echo:2" })))
    expect(gone).toEqual([{ name: "echo-server", reason: "replaced" }])
    expect(movedFirst).toEqual(["2.0.0"])
  })

  it("are told to a listener only until it unsubscribes", async () => {
    const mcp = await setUp()
    const gone: Array<McpServerGone> = []
    const unsubscribe = mcp.subscribeGone((g) => void gone.push(g))
    await d.vt.run(mcp.deploy(request()))
    unsubscribe()
    await d.vt.run(mcp.remove("echo-server"))
    expect(gone).toEqual([])
  })
})

describe("the servers whose listing changed", () => {
  const watching = (mcp: McpServers) => {
    const told: Array<string> = []
    mcp.subscribeListings(
      (name) => void told.push(`${name} ${mcp.isMcpServer(name) && Exit.isSuccess(Effect.runSyncExit(mcp.session(name))) ? "serving" : "not serving"}`),
    )
    return told
  }

  it("are told once per change: deployed, crashed, back, stopped, started and removed, each seen already by session()", async () => {
    const mcp = await setUp()
    const told = watching(mcp)
    await d.vt.run(mcp.deploy(request()))
    expect(told).toEqual(["echo-server serving"])
    await d.crash(mcp, "echo-server")
    await d.until(mcp, "echo-server", (v) => v.healthStatus === "healthy" && v.restartCount === 1)
    expect(told).toEqual(["echo-server serving", "echo-server not serving", "echo-server serving"])
    await d.vt.run(mcp.stop("echo-server"))
    await d.vt.run(mcp.start("echo-server"))
    await d.vt.run(mcp.remove("echo-server"))
    expect(told.slice(3)).toEqual(["echo-server not serving", "echo-server serving", "echo-server not serving"])
    expect(told).toHaveLength(6)
  })

  it("are told when a server's lists change, once discovery has the new ones", async () => {
    let server: McpServer | undefined
    const mcp = await setUp({ servers: { "mcp/echo:1": () => (server = echoMcpServer()) } })
    await d.vt.run(mcp.deploy(request()))
    const tools: Array<number | undefined> = []
    mcp.subscribeListings((name) => void tools.push(Effect.runSync(mcp.get(name)).capabilities?.tools.length))
    server?.registerTool("added", { description: "new" }, () => ({ content: [] }))
    await d.until(mcp, "echo-server", (v) => v.capabilities?.tools.length === 2)
    expect(tools).toEqual([2])
  })

  it("are not told when nothing a client sees changed: a ping, a redeploy of the same server", async () => {
    const mcp = await setUp()
    await d.vt.run(mcp.deploy(request()))
    const told = watching(mcp)
    await d.until(mcp, "echo-server", (v) => v.pingLatencyMs !== null)
    await d.vt.run(mcp.redeploy(request()))
    expect(told).toEqual([])
  })

  it("are told to a listener only until it unsubscribes, and a listener that throws stops neither the others nor supervision", async () => {
    const mcp = await setUp()
    const told: Array<string> = []
    mcp.subscribeListings(() => {
      throw new Error("a listener's bug")
    })
    const unsubscribe = mcp.subscribeListings((name) => void told.push(name))
    await d.vt.run(mcp.deploy(request()))
    unsubscribe()
    await d.vt.run(mcp.remove("echo-server"))
    await d.vt.run(mcp.deploy(request()))
    expect(told).toEqual(["echo-server"])
    expect(await d.vt.run(callEcho(mcp, "echo-server", "still"))).toMatchObject({ result: { content: [{ text: "still" }] } })
  })
})

describe("whether a container runs the same image as another", () => {
  const container = (image: string, imageId?: string | null): ManagedContainer => ({
    containerId: "c",
    containerName: "n",
    name: "n",
    accountToolInstanceId: null,
    kind: "mcp_server",
    image,
    imageId,
    state: "running",
    createdAt: 0,
    startedAt: null,
    exitCode: null,
    ports: [],
    mcp: null,
  })
  it.each([
    ["two tags of one image", container("a:1", "sha256:1"), container("a:latest", "sha256:1"), true],
    ["one reference that now names another image", container("a:1", "sha256:1"), container("a:1", "sha256:2"), false],
    ["different images", container("a:1", "sha256:1"), container("b:1", "sha256:2"), false],
    ["one reference, ids unknown", container("a:1"), container("a:1", null), true],
    ["different references, one id unknown", container("a:1", "sha256:1"), container("a:2"), false],
  ])("%s: %s", (_, a, b, same) => {
    expect(sameImage(a, b)).toBe(same)
  })
})

describe("what an MCP server says, when it holds a multi-line secret", () => {
  it("is shown with every line of a multi-line value masked, in its logs, a rollback's error and reason, and why its connection was lost", async () => {
    const mcp = await setUp()
    const key = ["-----BEGIN TEST KEY-----", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "bXVsdGktbGluZS1zZWNyZXQtdmFsdWU=", "-----END TEST KEY-----", ""].join("\n")
    const keyLines = key.split("\n").filter((l) => l !== "")
    const secretEnv = [{ name: "KEY", value: Redacted.make(key) }]
    const create = d.runtime.create.bind(d.runtime)
    d.runtime.create = (spec, options) =>
      create(spec, options).pipe(
        Effect.tap((c) => Effect.sync(() => d.logs.append(c.containerId, "stderr", `key:\n${key}env: ${JSON.stringify({ KEY: key })}`))),
      )
    // What the server answers instead of a session (an HTTP error body, say), once set.
    let answer: string | null = null
    const connect = d.connector.connect.bind(d.connector)
    d.connector.connect = (target, options) =>
      answer === null ? connect(target, options) : Effect.fail(new McpConnectFailed({ reason: "protocol", detail: `Error POSTing to endpoint: ${answer}` }))
    const leaked = (text: string) => keyLines.filter((l) => text.includes(l))

    const { containerId } = await d.vt.run(mcp.deploy(request({ env: secretEnv })))
    const logs = (await d.vt.run(mcp.logs("echo-server", 50))).map((l) => l.text)
    expect(logs).toContain(`env: {"KEY":"${MASK}"}`)
    expect(leaked(logs.join("\n"))).toEqual([])

    answer = `{"error":"bad config","key":${JSON.stringify(key)}}`
    const error = await d.vt.failure(mcp.deploy(request({ name: "echoing", env: secretEnv })))
    expect(error.message).toContain("Error POSTing to endpoint")
    expect(leaked(error.message)).toEqual([])

    await d.connector.crash(containerId, `reset while reading ${keyLines[1]}`)
    await d.until(mcp, "echo-server", (v) => v.lastError?.includes("Error POSTing to endpoint") === true)
    const view = await d.vt.run(mcp.get("echo-server"))
    expect(leaked(JSON.stringify(view))).toEqual([])
    expect(view.healthHistory.map((h) => h.detail)).toContain(`reset while reading ${MASK}`)
  })
})
