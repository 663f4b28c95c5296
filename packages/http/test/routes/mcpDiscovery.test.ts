import { get, type IncomingHttpHeaders } from "node:http"
import { gunzipSync } from "node:zlib"
import { echoMcpServer, type McpServerFactory } from "@dtma/testing"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { MCP_IMAGE, McpServingRuntime, mcpBody, NOW, startTestApp, TOKEN, type TestApp } from "../support/support.ts"

/** Echo servers that count the requests they receive, whoever sends them. */
const countingEcho =
  (counter: { requests: number }): McpServerFactory =>
  () => {
    const server = echoMcpServer()
    const connect = server.connect.bind(server)
    server.connect = async (transport) => {
      await connect(transport)
      const handle = transport.onmessage
      // oxlint-disable-next-line unicorn/prefer-add-event-listener -- the SDK's Transport has callback properties, not events
      transport.onmessage = (message, extra) => {
        if ("method" in message && "id" in message) counter.requests++
        handle?.(message, extra)
      }
    }
    return server
  }

let app: TestApp
const counter = { requests: 0 }
beforeEach(async () => {
  const runtime = new McpServingRuntime({ images: [MCP_IMAGE], now: () => NOW.getTime() })
  runtime.servers.set(MCP_IMAGE, countingEcho(counter))
  app = await startTestApp({ runtime })
})
afterEach(() => app.close())

// JSON bodies are read freely in assertions.
// oxlint-disable-next-line typescript/no-explicit-any
const jsonOf = (res: Response): Promise<any> => res.json()

describe("GET /mcp-servers/discovery", () => {
  it("answers what every server offers, in the spec's shape", async () => {
    await app.json("POST", "/mcp-servers", mcpBody())
    const res = await app.api("/mcp-servers/discovery")
    expect(res.status).toBe(200)
    const body = await jsonOf(res)
    expect(body).toEqual({
      success: true,
      data: {
        generatedAt: NOW.toISOString(),
        servers: [
          {
            instanceId: "ati-mcp-a",
            instanceName: "mcp-a",
            endpointUrl: `${app.base}/mcp-servers/mcp-a/mcp`,
            transportType: "stdio",
            healthStatus: "healthy",
            // The deploy's initialize and listing were a health check.
            lastHealthCheck: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
            capabilities: {
              protocolVersion: "2025-11-25",
              serverInfo: { name: "dtma-echo", version: "1.0.0" },
              serverCapabilities: expect.objectContaining({ tools: { listChanged: true } }),
              tools: [expect.objectContaining({ name: "echo", description: "Answers its text.", inputSchema: expect.any(Object) })],
              resources: [],
              resourceTemplates: [],
              prompts: [],
              hash: expect.stringMatching(/^[0-9a-f]{16}$/),
              fetchedAt: expect.any(String),
            },
            oauth: [],
          },
        ],
      },
    })
  })

  it("is not captured by GET /mcp-servers/:name", async () => {
    const body = await jsonOf(await app.api("/mcp-servers/discovery"))
    expect(body).toEqual({ success: true, data: { generatedAt: NOW.toISOString(), servers: [] } })
  })

  it("never asks a server anything during the request", async () => {
    await app.json("POST", "/mcp-servers", mcpBody())
    await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "mcp-b", mcpTransportType: "streamable_http" }))
    const before = counter.requests
    const connects = app.connector.connects.length
    for (let i = 0; i < 5; i++) expect((await app.api("/mcp-servers/discovery")).status).toBe(200)
    expect(counter.requests).toBe(before)
    expect(app.connector.connects.length).toBe(connects)
    expect(before).toBeGreaterThan(0)
  })

  it("carries a weak ETag and Cache-Control: no-cache, and answers a matching If-None-Match with a bodiless 304", async () => {
    await app.json("POST", "/mcp-servers", mcpBody())
    const first = await app.api("/mcp-servers/discovery")
    const etag = first.headers.get("etag")
    expect(etag).toMatch(/^W\/"[0-9a-f]{16}"$/)
    expect(first.headers.get("cache-control")).toBe("no-cache")
    for (const ifNoneMatch of [etag!, `"other", ${etag!}`, etag!.slice(2), "*"]) {
      const again = await app.api("/mcp-servers/discovery", { headers: { "if-none-match": ifNoneMatch } })
      expect(again.status).toBe(304)
      expect(again.headers.get("etag")).toBe(etag)
      expect(await again.text()).toBe("")
    }
  })

  it("changes its ETag when a server's health or the set of servers changes", async () => {
    await app.json("POST", "/mcp-servers", mcpBody())
    const tags = [(await app.api("/mcp-servers/discovery")).headers.get("etag")]
    await app.api("/mcp-servers/mcp-a/stop", { method: "POST" })
    tags.push((await app.api("/mcp-servers/discovery")).headers.get("etag"))
    await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "mcp-b" }))
    tags.push((await app.api("/mcp-servers/discovery")).headers.get("etag"))
    expect(new Set(tags).size).toBe(3)
    const stale = await app.api("/mcp-servers/discovery", { headers: { "if-none-match": tags[0]! } })
    expect(stale.status).toBe(200)
    expect((await jsonOf(stale)).data.servers.map((s: { healthStatus: string }) => s.healthStatus)).toEqual(["stopped", "healthy"])
  })
})

/** A GET of the discovery with `headers`, read raw (fetch would undo a content coding). */
const rawGet = (url: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
  new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    }).on("error", reject)
  })

describe("GET /mcp-servers/discovery, compressed", () => {
  it("is gzipped for a caller that accepts gzip, the same JSON as the plain answer, and plain for any other", async () => {
    await app.json("POST", "/mcp-servers", mcpBody())
    await app.json("POST", "/mcp-servers", mcpBody({ instanceNameOnToolbox: "mcp-b" }))
    const url = `${app.base}/mcp-servers/discovery`
    const authorization = `Bearer ${TOKEN}`
    const plain = await rawGet(url, { authorization })
    expect(plain.headers["content-encoding"]).toBeUndefined()
    expect(plain.headers.vary).toMatch(/accept-encoding/i)
    for (const accept of ["gzip", "gzip, deflate, br", "br;q=1, gzip;q=0.5"]) {
      const zipped = await rawGet(url, { authorization, "accept-encoding": accept })
      expect(zipped.status).toBe(200)
      expect(zipped.headers["content-encoding"]).toBe("gzip")
      expect(zipped.headers.etag).toBe(plain.headers.etag)
      expect(Number(zipped.headers["content-length"])).toBe(zipped.body.length)
      expect(zipped.body.length).toBeLessThan(plain.body.length)
      expect(JSON.parse(gunzipSync(zipped.body).toString("utf8"))).toEqual(JSON.parse(plain.body.toString("utf8")))
    }
    for (const accept of ["identity", "gzip;q=0", "br", "deflate"]) {
      const answer = await rawGet(url, { authorization, "accept-encoding": accept })
      expect([accept, answer.headers["content-encoding"]]).toEqual([accept, undefined])
      expect(JSON.parse(answer.body.toString("utf8")).data.servers).toHaveLength(2)
    }
    // What the backend's fetch does: asks for gzip and reads the JSON.
    expect((await jsonOf(await app.api("/mcp-servers/discovery"))).data.servers).toHaveLength(2)
    const notModified = await rawGet(url, { authorization, "accept-encoding": "gzip", "if-none-match": plain.headers.etag! })
    expect([notModified.status, notModified.body.length]).toEqual([304, 0])
  })
})
