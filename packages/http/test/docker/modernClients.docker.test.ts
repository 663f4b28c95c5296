import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { echo, removeContainersNamed, textOf } from "../support/mcpClient.ts"
import { eventually, proxyClient, type ProxyClient } from "../support/mcpProxySupport.ts"

// A 2026-07-28 client (the v2 SDK's, with the revision pinned) on a real DTMA, in front of a real
// 2025-era stdio server, through the server's endpoint and through /mcp, while a 2025-era client
// (SDK 1.x) works the same URL at the same time.

const EVERYTHING = "dtma/mcp-everything:2026.8.31"
const MODERN = "2026-07-28"
const run = `mod${Date.now().toString(36)}`
const name = `${run}-everything`

let dtma: DtmaProcess
const modernClients: Array<ModernClient> = []
const legacyClients: Array<ProxyClient> = []

beforeAll(async () => {
  dtma = await startDtma()
  const res = await dtma.call("POST", "/mcp-servers", {
    dockerImageUrl: EVERYTHING,
    instanceNameOnToolbox: name,
    accountToolInstanceId: `ati-${name}`,
    mcpTransportType: "stdio",
  })
  if (res.status !== 201) throw new Error(`deploying ${EVERYTHING}: ${res.status} ${JSON.stringify(res.body)}`)
}, 120_000)

afterAll(async () => {
  for (const c of modernClients) await c.close().catch(() => undefined)
  for (const c of legacyClients) await c.client.close().catch(() => undefined)
  await dtma?.kill("SIGKILL")
  await removeContainersNamed([name])
})

/** The v2 client pinned to 2026-07-28 on `url`, counting the resource list changes it hears through its own subscriptions/listen. */
const modernClient = async (url: string) => {
  const heard = { resourcesChanged: 0 }
  const client = new ModernClient(
    { name: "modern-docker", version: "1.0.0" },
    {
      versionNegotiation: { mode: { pin: MODERN } },
      listChanged: { resources: { autoRefresh: false, onChanged: () => void heard.resourcesChanged++ } },
    },
  )
  await client.connect(new ModernTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${dtma.token!}` } } }))
  modernClients.push(client)
  return { client, heard }
}

describe.each([
  ["the server's endpoint", () => `${dtma.url}/mcp-servers/${name}/mcp`, ""],
  ["/mcp", () => `${dtma.url}/mcp`, `${name}__`],
])("a 2026-07-28 client on %s of a real DTMA, in front of a 2025-era stdio server", (_where, urlOf, prefix) => {
  it("lists and calls tools, reads a resource, hears list_changed through subscriptions/listen; a 2025-era client on the URL is unaffected", async () => {
    const url = urlOf()
    const legacy = await proxyClient(url, dtma.token!)
    legacyClients.push(legacy)
    const { client, heard } = await modernClient(url)
    expect(client.getProtocolEra()).toBe("modern")
    expect(client.getServerCapabilities()).toMatchObject({ tools: expect.any(Object) })
    await eventually(() => expect(client.autoOpenedSubscription).toBeDefined(), 10_000)

    const tools = (await client.listTools()).tools.map((t) => t.name)
    expect(tools).toEqual(expect.arrayContaining([`${prefix}echo`, `${prefix}get-sum`]))
    // Both eras at once on one URL: each answer to its own client.
    const [modernEchoes, legacyEchoes] = await Promise.all([
      Promise.all(Array.from({ length: 10 }, (_, i) => client.callTool({ name: `${prefix}echo`, arguments: { message: `modern ${i}` } }).then(textOf))),
      Promise.all(Array.from({ length: 10 }, (_, i) => legacy.client.callTool({ name: `${prefix}echo`, arguments: { message: `legacy ${i}` } }).then(textOf))),
    ])
    expect(modernEchoes).toEqual(Array.from({ length: 10 }, (_, i) => `Echo: modern ${i}`))
    expect(legacyEchoes).toEqual(Array.from({ length: 10 }, (_, i) => `Echo: legacy ${i}`))
    expect(textOf(await client.callTool({ name: `${prefix}get-sum`, arguments: { a: 2, b: 3 } }))).toContain("5")

    const resources = (await client.listResources()).resources
    expect(resources.length).toBeGreaterThan(0)
    const read = await client.readResource({ uri: resources[0]!.uri })
    expect(read.contents[0]?.uri).toBe(resources[0]!.uri)

    // Registering a session resource changes the server's resource list.
    const gzip = await client.callTool({
      name: `${prefix}gzip-file-as-resource`,
      arguments: { name: `${run}-${prefix === "" ? "own" : "agg"}.txt.gz`, data: "data:text/plain;base64,aGVsbG8=", outputType: "resourceLink" },
    })
    expect(gzip.isError ?? false).toBe(false)
    await eventually(() => expect(heard.resourcesChanged).toBeGreaterThan(0), 20_000)

    // The 2025-era client still has its session and its calls.
    expect(legacy.transport.sessionId).toEqual(expect.any(String))
    if (prefix === "") await echo(legacy.client, "after the modern client")
    else expect(textOf(await legacy.client.callTool({ name: `${prefix}echo`, arguments: { message: "after" } }))).toBe("Echo: after")
  }, 120_000)
})
