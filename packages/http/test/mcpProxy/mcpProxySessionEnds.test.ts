import { afterEach, describe, expect, it } from "vitest"
import { McpServingRuntime, mcpBody } from "../support/support.ts"
import { eventually, fixtureServer, mcpHeaders, PROXY_IMAGE, proxyClient, sseMessages, startProxyApp, type ProxyApp } from "../support/mcpProxySupport.ts"

/** Another server, in an image of its own: what "a different server under the same name" runs. */
const OTHER_IMAGE = "dtma/mcp-proxy-other:1"
/** Another tag of the fixture's image: the same image under a new reference. */
const RETAGGED = "dtma/mcp-proxy-fixture:retagged"

const initialize = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
})
const list = (id: number) => JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list" })

/** A client session made by hand, with its notification stream (GET) open: `streamEnded` resolves when the DTMA closes it. */
const rawSession = async (endpoint: string) => {
  const opened = await fetch(endpoint, { method: "POST", headers: mcpHeaders(), body: initialize })
  const sessionId = opened.headers.get("mcp-session-id")!
  await opened.text()
  const stream = await fetch(endpoint, {
    method: "GET",
    headers: { ...mcpHeaders(sessionId), accept: "text/event-stream", "mcp-protocol-version": "2025-11-25" },
  })
  expect(stream.status).toBe(200)
  const streamEnded = stream.text().then(
    () => true,
    () => true,
  )
  const post = (body: string) => fetch(endpoint, { method: "POST", headers: { ...mcpHeaders(sessionId), "mcp-protocol-version": "2025-11-25" }, body })
  return { sessionId, streamEnded, post }
}

const within = <T>(promise: Promise<T>, ms: number): Promise<T | "still open"> =>
  Promise.race([promise, new Promise<"still open">((resolve) => setTimeout(() => resolve("still open"), ms))])

const toolNames = async (res: Response): Promise<ReadonlyArray<string>> => {
  const [answer] = res.headers.get("content-type") === "application/json" ? [await res.json()] : await sseMessages(res)
  return (answer as { result: { tools: Array<{ name: string }> } }).result.tools.map((t) => t.name)
}

describe("client sessions of a server that is removed or replaced", () => {
  let app: ProxyApp
  const redeploy = (image: string) => app.json("POST", "/mcp-servers/fixture/redeploy", mcpBody({ dockerImageUrl: image, instanceNameOnToolbox: "fixture" }))
  const withOtherImages = async (mcp: Parameters<typeof startProxyApp>[0] = {}) => {
    app = await startProxyApp(mcp)
    const runtime = app.runtime as McpServingRuntime
    runtime.images.add(OTHER_IMAGE)
    runtime.servers.set(OTHER_IMAGE, runtime.servers.get("dtma/mcp-echo:1")!)
    runtime.tag(PROXY_IMAGE, RETAGGED)
    runtime.servers.set(RETAGGED, fixtureServer(app.probe))
  }
  afterEach(() => app.close())

  it("ends a removed server's sessions at once: their notification streams close, and after a deploy under the name their next request is 404", async () => {
    await withOtherImages()
    const session = await rawSession(app.endpoint())
    expect((await app.api("/mcp-servers/fixture", { method: "DELETE" })).status).toBe(200)
    expect(await within(session.streamEnded, 2_000)).toBe(true)

    expect((await app.json("POST", "/mcp-servers", mcpBody({ dockerImageUrl: OTHER_IMAGE, instanceNameOnToolbox: "fixture" }))).status).toBe(201)
    const stale = await session.post(list(2))
    expect(stale.status).toBe(404)
    expect(await stale.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" } })
    const fresh = await rawSession(app.endpoint())
    expect(await toolNames(await fresh.post(list(2)))).toEqual(["echo"])
  })

  it("ends a server's sessions when a redeploy puts a different image under its name, letting their calls in flight finish", async () => {
    await withOtherImages()
    const session = await rawSession(app.endpoint())
    const held = session.post(JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "hold", arguments: { tag: "in-flight" } } }))
    await eventually(() => expect(app.probe.held.has("in-flight")).toBe(true))
    const replaced = redeploy(OTHER_IMAGE)

    expect(await within(session.streamEnded, 3_000)).toBe(true)
    const stale = await session.post(list(3))
    expect(stale.status).toBe(404)
    expect(await stale.json()).toMatchObject({ error: { code: -32001, message: "Session not found" } })
    app.probe.release("in-flight")
    expect(await (await held).json()).toMatchObject({ id: 7, result: { content: [{ text: "released in-flight" }] } })
    expect((await replaced).status).toBe(200)
  })

  it("keeps a server's sessions through a redeploy of the same image, under its reference or another tag of it", async () => {
    await withOtherImages()
    const session = await rawSession(app.endpoint())
    const client = await proxyClient(app.endpoint())
    for (const image of [PROXY_IMAGE, RETAGGED]) {
      expect((await redeploy(image)).status).toBe(200)
      expect(await toolNames(await session.post(list(2)))).toContain("hold")
      expect((await client.client.listTools()).tools.map((t) => t.name)).toContain("hold")
    }
    expect(await within(session.streamEnded, 200)).toBe("still open")
    await client.client.close()
  })
})
