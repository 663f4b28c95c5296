import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { docker, echo, removeContainersNamed } from "../support/mcpClient.ts"
import { mcpHeaders, proxyClient, type ProxyClient } from "../support/mcpProxySupport.ts"

// A client session belongs to the server it was opened on: removing that server, or replacing it by
// a different image, ends the session (404, then the client initializes again); the same image keeps it.

const EVERYTHING = "dtma/mcp-everything:2026.8.31"
const MEMORY = "dtma/mcp-memory:2026.8.31"
const run = `pss${Date.now().toString(36)}`
// Another tag of server-everything's image: the same server under a new reference.
const RETAGGED = `dtma/mcp-everything:sessions-${run}`

let dtma: DtmaProcess
const names = new Set<string>()
const clients: Array<ProxyClient> = []

const endpointOf = (name: string) => `${dtma.url}/mcp-servers/${encodeURIComponent(name)}/mcp`
const body = (name: string, image: string) => ({
  dockerImageUrl: image,
  instanceNameOnToolbox: name,
  accountToolInstanceId: `ati-${name}`,
  mcpTransportType: "stdio",
})

const deploy = async (name: string, image: string): Promise<void> => {
  names.add(name)
  const res = await dtma.call("POST", "/mcp-servers", body(name, image))
  expect(res.status, `deploying ${image} as ${name}: ${JSON.stringify(res.body)}`).toBe(201)
}

const redeploy = async (name: string, image: string): Promise<void> => {
  const res = await dtma.call("POST", `/mcp-servers/${encodeURIComponent(name)}/redeploy`, body(name, image))
  expect(res.status, `redeploying ${name} with ${image}: ${JSON.stringify(res.body)}`).toBe(200)
}

const client = async (name: string): Promise<ProxyClient> => {
  const c = await proxyClient(endpointOf(name), dtma.token!)
  clients.push(c)
  return c
}

/** A notification stream (GET) of a session opened by hand: `ended` resolves once the DTMA closes it. */
const openStream = async (name: string) => {
  const headers = mcpHeaders(undefined, dtma.token!)
  const init = {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  }
  const opened = await fetch(endpointOf(name), { method: "POST", headers, body: JSON.stringify(init) })
  const sessionId = opened.headers.get("mcp-session-id")!
  await opened.text()
  const stream = await fetch(endpointOf(name), {
    headers: { ...mcpHeaders(sessionId, dtma.token!), accept: "text/event-stream", "mcp-protocol-version": "2025-11-25" },
  })
  expect(stream.status).toBe(200)
  const ended = stream.text().then(
    () => "closed" as const,
    () => "closed" as const,
  )
  return { sessionId, ended }
}

const within = <T>(promise: Promise<T>, ms: number): Promise<T | "open"> =>
  Promise.race([promise, new Promise<"open">((resolve) => setTimeout(() => resolve("open"), ms))])

const toolNames = async (c: ProxyClient): Promise<ReadonlyArray<string>> => (await c.client.listTools()).tools.map((t) => t.name)

beforeAll(async () => {
  await docker("tag", EVERYTHING, RETAGGED)
  dtma = await startDtma()
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.client.close().catch(() => undefined)))
  await dtma?.kill("SIGKILL")
  await removeContainersNamed(names)
  await docker("rmi", RETAGGED).catch(() => undefined)
})

describe("client sessions of a real DTMA's proxied endpoint, when their server goes", () => {
  it("ends a removed server's sessions at once (notification streams closed), and after a deploy under the name their next request is 404", async () => {
    const name = `${run}-removed`
    await deploy(name, EVERYTHING)
    const sdk = await client(name)
    await sdk.streamOpen
    const raw = await openStream(name)
    await echo(sdk.client, "before the removal")

    expect((await dtma.call("DELETE", `/mcp-servers/${encodeURIComponent(name)}`)).status).toBe(200)
    expect(await within(raw.ended, 5_000)).toBe("closed")

    await deploy(name, MEMORY)
    await expect(sdk.client.listTools()).rejects.toMatchObject({ code: 404 })
    const headers = { ...mcpHeaders(raw.sessionId, dtma.token!), "mcp-protocol-version": "2025-11-25" }
    const stale = await fetch(endpointOf(name), { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) })
    expect(stale.status).toBe(404)
    expect(await stale.json()).toMatchObject({ error: { code: -32001, message: "Session not found" } })
    expect(await toolNames(await client(name))).toContain("create_entities")
  }, 90_000)

  it("keeps a server's sessions through a redeploy of the same image under another tag; ends them when one puts another image under the name", async () => {
    const name = `${run}-redeployed`
    await deploy(name, EVERYTHING)
    const sdk = await client(name)
    await sdk.streamOpen
    const raw = await openStream(name)

    await redeploy(name, RETAGGED)
    await echo(sdk.client, "after a redeploy of the same image")
    expect(await within(raw.ended, 500)).toBe("open")

    await redeploy(name, MEMORY)
    expect(await within(raw.ended, 5_000)).toBe("closed")
    await expect(sdk.client.listTools()).rejects.toMatchObject({ code: 404 })
    const fresh = await client(name)
    expect(await toolNames(fresh)).toContain("create_entities")
    expect(await toolNames(fresh)).not.toContain("echo")
  }, 120_000)
})
