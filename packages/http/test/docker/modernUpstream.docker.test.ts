import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client"
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startDtma, type DtmaProcess } from "../support/dtmaProcess.ts"
import { removeContainersNamed, textOf } from "../support/mcpClient.ts"
import { eventually, proxyClient } from "../support/mcpProxySupport.ts"
import { MODERN_STDIO_SERVER } from "../support/modernStdioServer.ts"

// A real DTMA in front of a real container whose stdio server speaks only 2026-07-28 (plain Node
// in the base image, `support/modernStdioServer.ts`): deployed healthy, checked with
// server/discover, served to a 2025-era client by translation and to a 2026-07-28 client as is; its
// questions (input_required) put to each as its era asks them.

const BASE = "dtma/node-base:24"
const name = `mup${Date.now().toString(36)}-modern`

let dtma: DtmaProcess

beforeAll(async () => {
  dtma = await startDtma()
  const res = await dtma.call("POST", "/mcp-servers", {
    dockerImageUrl: BASE,
    instanceNameOnToolbox: name,
    accountToolInstanceId: `ati-${name}`,
    mcpTransportType: "stdio",
    baseConfigOverrideJson: { Entrypoint: ["node", "-e", MODERN_STDIO_SERVER], User: "1000:1000" },
  })
  if (res.status !== 201) throw new Error(`deploying the modern server: ${res.status} ${JSON.stringify(res.body)}`)
}, 120_000)

afterAll(async () => {
  await dtma?.kill("SIGKILL")
  await removeContainersNamed([name])
})

describe("a real DTMA in front of a stdio server that speaks only 2026-07-28", () => {
  it("deploys it healthy with what server/discover said, and keeps it healthy on server/discover (it answers no ping)", async () => {
    const view = await dtma.call("GET", `/mcp-servers/${name}`)
    expect(view.body.data).toMatchObject({
      healthStatus: "healthy",
      capabilities: { protocolVersion: "2026-07-28", serverInfo: { name: "docker-modern", version: "1.0.0" }, counts: { tools: 3 } },
    })
    // A health check answered: the server refuses ping, so only server/discover can have answered it.
    await eventually(async () => {
      const again = await dtma.call("GET", `/mcp-servers/${name}`)
      expect(again.body.data).toMatchObject({ healthStatus: "healthy", pingLatencyMs: expect.any(Number) })
    }, 45_000)
  }, 60_000)

  it.each([
    ["the server's endpoint", () => `${dtma.url}/mcp-servers/${name}/mcp`, ""],
    ["/mcp", () => `${dtma.url}/mcp`, `${name}__`],
  ])(
    "serves a 2025-era client and a 2026-07-28 client on %s",
    async (_where, urlOf, prefix) => {
      const url = urlOf()
      const legacy = await proxyClient(url, dtma.token!, { elicit: () => ({ action: "accept", content: { name: "old-era" } }) })
      const modern = new ModernClient(
        { name: "modern-docker", version: "1.0.0" },
        { versionNegotiation: { mode: { pin: "2026-07-28" } }, capabilities: { elicitation: { form: {} } } },
      )
      modern.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { name: "new-era" } }))
      await modern.connect(new ModernTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${dtma.token!}` } } }))
      try {
        expect((await legacy.client.listTools()).tools.map((t) => t.name)).toContain(`${prefix}echo`)
        expect(textOf(await legacy.client.callTool({ name: `${prefix}echo`, arguments: { text: "old" } }))).toBe("modern: old")
        expect(textOf(await modern.callTool({ name: `${prefix}echo`, arguments: { text: "new" } }))).toBe("modern: new")
        // A question of the server's, to each client as its era asks: an elicitation on the 2025-era
        // session, answered before the DTMA retries; input_required through to the 2026-07-28 client.
        expect(textOf(await legacy.client.callTool({ name: `${prefix}greet`, arguments: {} }))).toBe("hello old-era")
        expect(textOf(await modern.callTool({ name: `${prefix}greet`, arguments: {} }))).toBe("hello new-era")
        // A tool the server adds: heard on the DTMA's listen upstream, told to the 2025-era client, listed and called.
        let changes = 0
        legacy.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++)
        await legacy.streamOpen
        const added = textOf(await legacy.client.callTool({ name: `${prefix}add_tool`, arguments: {} }))
        await eventually(() => expect(changes).toBeGreaterThan(0), 10_000)
        await eventually(async () => expect((await legacy.client.listTools()).tools.map((t) => t.name)).toContain(`${prefix}${added}`), 10_000)
        expect(textOf(await legacy.client.callTool({ name: `${prefix}${added}`, arguments: { text: "grown" } }))).toBe("modern: grown")
      } finally {
        await legacy.client.close().catch(() => undefined)
        await modern.close().catch(() => undefined)
      }
    },
    60_000,
  )
})
