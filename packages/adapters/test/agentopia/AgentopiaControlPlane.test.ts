import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Redacted } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { HeartbeatReport } from "@dtma/domain"
import { failureOf, fixedSample, run } from "@dtma/testing"
import { makeAgentopiaControlPlane } from "../../src/agentopia/AgentopiaControlPlane.ts"

interface Seen {
  readonly url: string
  readonly authorization: string | undefined
  readonly body: unknown
}

let server: Server | undefined
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())))

const backend = async (answer: (req: IncomingMessage, res: ServerResponse) => void) => {
  const seen: Array<Seen> = []
  server = createServer((req, res) => {
    let text = ""
    req.on("data", (c: Buffer) => (text += c.toString()))
    req.on("end", () => {
      seen.push({ url: req.url ?? "", authorization: req.headers.authorization, body: JSON.parse(text || "null") })
      answer(req, res)
    })
  })
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  const plane = makeAgentopiaControlPlane({ baseUrl: `http://127.0.0.1:${port}/functions/v1/`, token: Redacted.make("dtma-token-1"), timeoutMs: 300 })
  return { plane, seen }
}

const report: HeartbeatReport = {
  dtmaVersion: "0.1.0",
  system: fixedSample,
  tools: [
    {
      accountToolInstanceId: "ati-1",
      statusOnToolbox: "running",
      containerId: "c1",
      image: "img:1",
      startedAt: "2026-01-01T00:00:00.000Z",
      state: "running",
      instanceName: "t",
      kind: "standard_tool",
      mcp: null,
    },
    {
      accountToolInstanceId: "ati-2",
      statusOnToolbox: "error",
      containerId: "c2",
      image: "mcp:1",
      startedAt: null,
      state: "running",
      instanceName: "m",
      kind: "mcp_server",
      mcp: { transport: "stdio", health: "unhealthy" },
    },
  ],
}

describe("AgentopiaControlPlane heartbeat", () => {
  it("posts the legacy body to {base}/heartbeat with the DTMA's bearer token, MCP servers with their transport and health", async () => {
    const { plane, seen } = await backend((_req, res) => res.writeHead(204).end())
    await run(plane.reportHeartbeat(report))
    expect(seen).toEqual([
      {
        url: "/functions/v1/heartbeat",
        authorization: "Bearer dtma-token-1",
        body: {
          dtma_version: "0.1.0",
          system_status: {
            cpu_load_percent: 3.2,
            memory: { total_bytes: 8000, active_bytes: 3000, free_bytes: 5000, used_bytes: 3000 },
            disk: { mount: "/", total_bytes: 100000, used_bytes: 40000, free_bytes: 60000 },
          },
          tool_statuses: [
            {
              account_tool_instance_id: "ati-1",
              status_on_toolbox: "running",
              runtime_details: {
                container_id: "c1",
                image: "img:1",
                started_at: "2026-01-01T00:00:00.000Z",
                state_details: { state: "running", instance_name: "t", kind: "standard_tool" },
              },
            },
            {
              account_tool_instance_id: "ati-2",
              status_on_toolbox: "error",
              runtime_details: {
                container_id: "c2",
                image: "mcp:1",
                started_at: null,
                state_details: { state: "running", instance_name: "m", kind: "mcp_server" },
                transport: "stdio",
                health_status: "unhealthy",
              },
            },
          ],
        },
      },
    ])
  })

  it("treats a 401 as a rejection naming the status", async () => {
    const { plane } = await backend((_req, res) => res.writeHead(401).end("unknown token"))
    expect(await failureOf(plane.reportHeartbeat(report))).toMatchObject({ _tag: "ControlPlaneRejected", status: 401 })
  })

  it.each([500, 502, 503, 429])("treats a %i as the backend being unavailable", async (status) => {
    const { plane } = await backend((_req, res) => res.writeHead(status).end())
    expect(await failureOf(plane.reportHeartbeat(report))).toMatchObject({ _tag: "ControlPlaneUnavailable" })
  })

  it("gives up on a backend that never answers within the timeout", async () => {
    const { plane } = await backend(() => undefined)
    const error = await failureOf(plane.reportHeartbeat(report))
    expect(error).toMatchObject({ _tag: "ControlPlaneUnavailable", detail: "no answer within 300 ms" })
  })

  it("reports a refused connection as unavailable without the token in the message", async () => {
    const plane = makeAgentopiaControlPlane({ baseUrl: "http://127.0.0.1:9", token: Redacted.make("dtma-token-1"), timeoutMs: 1000 })
    const error = await failureOf(plane.reportHeartbeat(report))
    expect(error._tag).toBe("ControlPlaneUnavailable")
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain("dtma-token-1")
  })
})
