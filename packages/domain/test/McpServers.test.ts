import { Effect, Redacted } from "effect"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { testSupervision } from "./testSupervision.ts"
import { afterEach, describe, expect, it, vi } from "vitest"
import { makeInstances, makeMcpServers, MASK, McpConnectFailed, sameImage, type DeployRequest, type ManagedContainer, type McpServerGone, type McpServers } from "../src/index.ts"
import {
  echoMcpServer, failureOf, InMemoryContainerEvents, InMemoryContainerLogs, InMemoryContainerRuntime, InMemoryMcpConnector, run, type McpServerFactory,
} from "@dtma/testing"

const settings = testSupervision()

/**
 * The fakes wired as a droplet behaves: each image serves its MCP server once its container runs,
 * and a crash is what Docker shows — the process gone, its connections closed, a `die` event.
 */
const droplet = (servers: Record<string, McpServerFactory> = { "mcp/echo:1": echoMcpServer }) => {
  const runtime = new InMemoryContainerRuntime({ images: [...Object.keys(servers), "mcp/silent:1"] })
  const connector = new InMemoryMcpConnector()
  const logs = new InMemoryContainerLogs()
  const events = new InMemoryContainerEvents()
  const serving: typeof connector = Object.assign(Object.create(connector) as InMemoryMcpConnector, {
    connect: (target: Parameters<InMemoryMcpConnector["connect"]>[0], options: { timeoutMs: number }) =>
      runtime.get(target.containerId).pipe(
        Effect.tap((c) => Effect.sync(() => {
          const factory = servers[c.image]
          if (factory !== undefined && c.state === "running") connector.register(c.containerId, factory)
          else connector.makeUnreachable(c.containerId)
        })),
        Effect.ignore,
        Effect.andThen(connector.connect(target, options)),
      ),
  })
  const instances = makeInstances({ runtime, settings: { reservedHostPorts: [30000], stopGraceSeconds: 1 } })
  const make = () => makeMcpServers({ instances, runtime, connector: serving, logs, events, settings })
  const crash = async (mcp: McpServers, name: string, exitCode = 1) => {
    const { containerId } = await run(mcp.get(name))
    runtime.crash(containerId, exitCode)
    await connector.crash(containerId, "the process exited")
    events.emit({ kind: "die", containerId, name, exitCode, at: Date.now() })
  }
  return { runtime, connector, logs, events, instances, make, crash }
}

const request = (overrides: Partial<DeployRequest> = {}): DeployRequest => ({
  name: "echo-server",
  accountToolInstanceId: "ati-1",
  image: "mcp/echo:1",
  env: [{ name: "TOKEN", value: Redacted.make("t") }],
  ports: [],
  mcp: { transport: "stdio", endpointPath: null, port: null },
  ...overrides,
})

const callEcho = (mcp: McpServers, name: string, text: string) =>
  mcp.session(name).pipe(Effect.flatMap((s) => s.forward("client-1", { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text } } }, { timeoutMs: 500 })))

let live: Array<McpServers> = []
afterEach(async () => {
  for (const mcp of live) await run(mcp.shutdown())
  live = []
})
const started = (d: ReturnType<typeof droplet>) => {
  const mcp = d.make()
  live.push(mcp)
  return mcp
}

describe("deploying an MCP server", () => {
  it("answers once it is initialized and listed, healthy, with its tools discovered", async () => {
    const d = droplet()
    const mcp = started(d)
    const view = await run(mcp.deploy(request()))
    expect(view).toMatchObject({ instanceName: "echo-server", healthStatus: "healthy", transportType: "stdio", restartCount: 0 })
    expect(view.capabilities?.tools.map((t) => t["name"])).toEqual(["echo"])
    expect(view.capabilities?.serverInfo).toMatchObject({ name: "dtma-echo" })
    expect(await run(callEcho(mcp, "echo-server", "hi"))).toEqual({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "hi" }] } })
  })

  it("rolls back a server that never answers, saying why with its stderr tail, and leaves no container", async () => {
    const d = droplet()
    const mcp = started(d)
    const appendLogs = d.runtime.create.bind(d.runtime)
    d.runtime.create = (spec) => appendLogs(spec).pipe(Effect.tap((c) => Effect.sync(() => {
      d.logs.addContainer(c.containerId)
      d.logs.append(c.containerId, "stderr", "Error: missing API key")
    })))
    const error = await failureOf(mcp.deploy(request({ image: "mcp/silent:1" })))
    expect(error).toMatchObject({ _tag: "McpServerNotReady", name: "echo-server", stderrTail: ["Error: missing API key"] })
    expect(error.message).toContain("Error: missing API key")
    expect(d.runtime.containerCount()).toBe(0)
    expect(mcp.list()).toEqual([])
  })

  it("refuses a deploy without MCP settings", async () => {
    const mcp = started(droplet())
    expect(await failureOf(mcp.deploy(request({ mcp: null })))).toMatchObject({ _tag: "InvalidInstanceSpec", field: "mcpTransportType" })
  })
})

describe("supervising an MCP server", () => {
  it("notices a crash, restarts the container with backoff and is healthy again", async () => {
    const d = droplet()
    const mcp = started(d)
    await run(mcp.deploy(request()))
    await d.crash(mcp, "echo-server")
    await vi.waitFor(async () => expect(await run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "healthy", restartCount: 1, lastError: "container exited with code 1" }))
    expect((await run(mcp.get("echo-server"))).healthHistory.map((h) => h.status)).toEqual(expect.arrayContaining(["unhealthy", "starting", "healthy"]))
    expect(await run(callEcho(mcp, "echo-server", "again"))).toMatchObject({ result: { content: [{ text: "again" }] } })
  })

  it("stops restarting a crash-looping server and says why", async () => {
    const d = droplet()
    const mcp = started(d)
    await run(mcp.deploy(request()))
    for (let i = 1; i <= 3; i++) {
      await vi.waitFor(async () => expect((await run(mcp.get("echo-server"))).healthStatus).toBe("healthy"))
      await d.crash(mcp, "echo-server")
    }
    await vi.waitFor(async () => expect((await run(mcp.get("echo-server"))).lastError).toContain("crashed 3 times"))
    const view = await run(mcp.get("echo-server"))
    expect(view).toMatchObject({ healthStatus: "unhealthy", restartCount: 2 })
    await new Promise((r) => setTimeout(r, 100))
    expect((await run(mcp.get("echo-server"))).restartCount).toBe(2)
    expect(await failureOf(mcp.session("echo-server"))).toMatchObject({ _tag: "McpServerUnavailable", health: "unhealthy" })
  })

  it("reconnects when only the connection is lost, without restarting the container", async () => {
    const d = droplet()
    const mcp = started(d)
    const { containerId } = await run(mcp.deploy(request()))
    await d.connector.crash(containerId, "attach stream broke")
    await vi.waitFor(async () => expect(await run(callEcho(mcp, "echo-server", "back"))).toMatchObject({ result: { content: [{ text: "back" }] } }))
    expect(await run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "healthy", restartCount: 0, containerId })
  })

  it("re-reads the runtime when the event feed had a gap, so a crash it missed is still handled", async () => {
    const d = droplet()
    const mcp = started(d)
    const { containerId } = await run(mcp.deploy(request()))
    d.events.breakFeed()
    d.runtime.crash(containerId, 137)
    await d.connector.crash(containerId)
    d.events.restoreFeed()
    await vi.waitFor(async () => expect(await run(mcp.get("echo-server"))).toMatchObject({ healthStatus: "healthy", restartCount: 1 }))
  })

  it("refreshes discovery when the server says its tool list changed", async () => {
    let server: McpServer | undefined
    const d = droplet({
      "mcp/echo:1": () => {
        server = echoMcpServer()
        return server
      },
    })
    const mcp = started(d)
    await run(mcp.deploy(request()))
    server?.registerTool("added", { description: "new" }, () => ({ content: [] }))
    await vi.waitFor(async () => expect((await run(mcp.get("echo-server"))).capabilities?.tools.map((t) => t["name"])).toEqual(["echo", "added"]))
  })
})

describe("managing an MCP server", () => {
  it("stops it without restarting it, and starts it healthy again", async () => {
    const d = droplet()
    const mcp = started(d)
    await run(mcp.deploy(request()))
    expect(await run(mcp.stop("echo-server"))).toMatchObject({ healthStatus: "stopped", containerState: "exited" })
    expect(await failureOf(mcp.session("echo-server"))).toMatchObject({ _tag: "McpServerUnavailable", health: "stopped" })
    await new Promise((r) => setTimeout(r, 60))
    expect((await run(mcp.get("echo-server"))).restartCount).toBe(0)
    expect(await run(mcp.start("echo-server"))).toMatchObject({ healthStatus: "healthy", containerState: "running" })
  })

  it("removes it and its container", async () => {
    const d = droplet()
    const mcp = started(d)
    await run(mcp.deploy(request()))
    await run(mcp.remove("echo-server"))
    expect(mcp.list()).toEqual([])
    expect(d.runtime.containerCount()).toBe(0)
    expect(await failureOf(mcp.get("echo-server"))).toMatchObject({ _tag: "InstanceNotFound" })
  })

  it("is adopted, healthy and callable by the next DTMA after a restart", async () => {
    const d = droplet()
    const first = d.make()
    await run(first.deploy(request()))
    await run(first.deploy(request({ name: "stopped-one" })))
    await run(first.stop("stopped-one"))
    await run(first.shutdown())
    const next = started(d)
    await run(d.instances.reconcile())
    expect(await run(next.adopt())).toEqual(["echo-server", "stopped-one"])
    expect(await run(next.get("echo-server"))).toMatchObject({ healthStatus: "healthy" })
    expect(await run(next.get("stopped-one"))).toMatchObject({ healthStatus: "stopped" })
    expect(await run(callEcho(next, "echo-server", "adopted"))).toMatchObject({ result: { content: [{ text: "adopted" }] } })
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
    const d = droplet({ "mcp/echo:1": echoMcpServer, "mcp/echo:2": v2 })
    const mcp = started(d)
    const before = await run(mcp.deploy(request()))
    const traffic = { calling: true }
    const answers: Array<unknown> = []
    const caller = (async () => {
      for (let i = 0; traffic.calling; i++) {
        answers.push(await Effect.runPromise(Effect.result(callEcho(mcp, "echo-server", `call-${i}`))))
        // In-memory calls settle on microtasks alone: let timers run between them.
        await new Promise((r) => setImmediate(r))
      }
    })()
    await new Promise((r) => setTimeout(r, 20))
    const after = await run(mcp.redeploy(request({ image: "mcp/echo:2" })))
    await new Promise((r) => setTimeout(r, 20))
    traffic.calling = false
    await caller
    expect(after).toMatchObject({ image: "mcp/echo:2", healthStatus: "healthy", capabilities: { serverInfo: { version: "2.0.0" } } })
    expect(after.containerId).not.toBe(before.containerId)
    expect(answers.length).toBeGreaterThan(5)
    expect(answers.filter((a) => (a as { _tag: string })._tag !== "Success" || "error" in (a as { success: object }).success)).toEqual([])
    expect(JSON.stringify(answers.at(-1))).toContain("v2")
    expect((await run(d.runtime.list())).map((c) => c.containerId)).toEqual([after.containerId])
  })

  it("keeps the old container serving when the replacement never becomes ready", async () => {
    const d = droplet()
    const mcp = started(d)
    const before = await run(mcp.deploy(request()))
    expect(await failureOf(mcp.redeploy(request({ image: "mcp/silent:1" })))).toMatchObject({ _tag: "McpServerNotReady" })
    expect(await run(mcp.get("echo-server"))).toMatchObject({ containerId: before.containerId, healthStatus: "healthy", image: "mcp/echo:1" })
    expect(d.runtime.containerCount()).toBe(1)
    expect(await run(callEcho(mcp, "echo-server", "still"))).toMatchObject({ result: { content: [{ text: "still" }] } })
  })

  it("refuses to redeploy a server that does not exist", async () => {
    const mcp = started(droplet())
    expect(await failureOf(mcp.redeploy(request()))).toMatchObject({ _tag: "InstanceNotFound" })
  })
})

describe("the servers whose client sessions must end", () => {
  const v2: McpServerFactory = () => new McpServer({ name: "dtma-echo", version: "2.0.0" })
  const watching = (mcp: McpServers) => {
    const gone: Array<McpServerGone> = []
    mcp.subscribeGone((g) => void gone.push(g))
    return gone
  }

  it("are those removed, by a call or behind the DTMA's back, and not those stopped, started, restarted or shut down", async () => {
    const d = droplet()
    const mcp = started(d)
    const gone = watching(mcp)
    await run(mcp.deploy(request()))
    await run(mcp.deploy(request({ name: "elsewhere" })))
    await run(mcp.restart("echo-server"))
    await run(mcp.stop("echo-server"))
    await run(mcp.start("echo-server"))
    expect(gone).toEqual([])
    await run(mcp.remove("echo-server"))
    expect(gone).toEqual([{ name: "echo-server", reason: "removed" }])
    const { containerId } = await run(mcp.get("elsewhere"))
    await run(d.runtime.remove(containerId))
    d.events.emit({ kind: "destroy", containerId, name: "elsewhere", exitCode: null, at: Date.now() })
    expect(gone).toEqual([{ name: "echo-server", reason: "removed" }, { name: "elsewhere", reason: "removed" }])
  })

  it("are those a redeploy replaced by a different image, once traffic moved, and not those redeployed with the same image under any tag", async () => {
    const d = droplet({ "mcp/echo:1": echoMcpServer, "mcp/echo:retagged": echoMcpServer, "mcp/echo:2": v2 })
    d.runtime.tag("mcp/echo:1", "mcp/echo:retagged")
    const mcp = started(d)
    const gone = watching(mcp)
    await run(mcp.deploy(request()))
    await run(mcp.redeploy(request()))
    await run(mcp.redeploy(request({ image: "mcp/echo:retagged" })))
    expect(await failureOf(mcp.redeploy(request({ image: "mcp/silent:1" })))).toMatchObject({ _tag: "McpServerNotReady" })
    expect(gone).toEqual([])
    const movedFirst: Array<string> = []
    mcp.subscribeGone(() => void movedFirst.push(Effect.runSync(mcp.session("echo-server")).hello.serverInfo.version))
    await run(mcp.redeploy(request({ image: "mcp/echo:2" })))
    expect(gone).toEqual([{ name: "echo-server", reason: "replaced" }])
    expect(movedFirst).toEqual(["2.0.0"])
  })

  it("are told to a listener only until it unsubscribes", async () => {
    const mcp = started(droplet())
    const gone: Array<McpServerGone> = []
    const unsubscribe = mcp.subscribeGone((g) => void gone.push(g))
    await run(mcp.deploy(request()))
    unsubscribe()
    await run(mcp.remove("echo-server"))
    expect(gone).toEqual([])
  })
})

describe("whether a container runs the same image as another", () => {
  const container = (image: string, imageId?: string | null): ManagedContainer => ({
    containerId: "c", containerName: "n", name: "n", accountToolInstanceId: null, kind: "mcp_server", image, imageId, state: "running",
    createdAt: 0, startedAt: null, exitCode: null, ports: [], mcp: null,
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

describe("what an MCP server prints", () => {
  it("is shown with the values it was given masked, in its logs and in a rollback's error", async () => {
    const d = droplet()
    const mcp = started(d)
    const create = d.runtime.create.bind(d.runtime)
    d.runtime.create = (spec) => create(spec).pipe(Effect.tap((c) => Effect.sync(() => {
      d.logs.addContainer(c.containerId)
      d.logs.append(c.containerId, "stderr", `using key sk-live-0123456789 for ${spec.name}`)
    })))
    const secretEnv = [{ name: "API_KEY", value: Redacted.make("sk-live-0123456789") }]
    await run(mcp.deploy(request({ env: secretEnv })))
    const lines = await run(mcp.logs("echo-server", 10))
    expect(lines).toEqual([{ stream: "stderr", text: "using key ******** for echo-server" }])
    const error = await failureOf(mcp.deploy(request({ name: "silent", image: "mcp/silent:1", env: secretEnv })))
    expect(error.message).toContain("using key ******** for silent")
    expect(error.message).not.toContain("sk-live")
  })

  it("is shown with every line of a multi-line value masked, in its logs, a rollback's error and reason, and why its connection was lost", async () => {
    const d = droplet()
    const mcp = started(d)
    const key = ["-----BEGIN TEST KEY-----", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "bXVsdGktbGluZS1zZWNyZXQtdmFsdWU=", "-----END TEST KEY-----", ""].join("\n")
    const keyLines = key.split("\n").filter((l) => l !== "")
    const secretEnv = [{ name: "KEY", value: Redacted.make(key) }]
    const create = d.runtime.create.bind(d.runtime)
    d.runtime.create = (spec) => create(spec).pipe(Effect.tap((c) => Effect.sync(() => d.logs.append(c.containerId, "stderr", `key:\n${key}env: ${JSON.stringify({ KEY: key })}`))))
    // What the server answers instead of a session (an HTTP error body, say), once set.
    let answer: string | null = null
    const connect = d.connector.connect.bind(d.connector)
    d.connector.connect = (target, options) =>
      answer === null ? connect(target, options) : Effect.fail(new McpConnectFailed({ reason: "protocol", detail: `Error POSTing to endpoint: ${answer}` }))
    const leaked = (text: string) => keyLines.filter((l) => text.includes(l))

    const { containerId } = await run(mcp.deploy(request({ env: secretEnv })))
    const logs = (await run(mcp.logs("echo-server", 50))).map((l) => l.text)
    expect(logs).toContain(`env: {"KEY":"${MASK}"}`)
    expect(leaked(logs.join("\n"))).toEqual([])

    answer = `{"error":"bad config","key":${JSON.stringify(key)}}`
    const error = await failureOf(mcp.deploy(request({ name: "echoing", env: secretEnv })))
    expect(error.message).toContain("Error POSTing to endpoint")
    expect(leaked(error.message)).toEqual([])

    await d.connector.crash(containerId, `reset while reading ${keyLines[1]}`)
    const view = await vi.waitFor(async () => {
      const v = await run(mcp.get("echo-server"))
      expect(v.lastError).toContain("Error POSTing to endpoint")
      return v
    })
    expect(leaked(JSON.stringify(view))).toEqual([])
    expect(view.healthHistory.map((h) => h.detail)).toContain(`reset while reading ${MASK}`)
  })
})
