import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Redacted } from "effect"
import { z } from "zod"
import type { HeartbeatReport } from "@dtma/domain"
import { controlPlaneContract, type BackendFault } from "@dtma/testing"
import { makeAgentopiaControlPlane } from "../../src/agentopia/AgentopiaControlPlane.ts"

const TOKEN = "dtma-token-contract-7c1f"

const str = z.string()
/** A heartbeat body as the spec's backend reads it (`legacy-dtma-api.md`, "Heartbeat"), nothing more. */
const HeartbeatBody = z.strictObject({
  dtma_version: str,
  system_status: z.strictObject({
    cpu_load_percent: z.number(),
    memory: z.strictObject({ total_bytes: z.number(), active_bytes: z.number(), free_bytes: z.number(), used_bytes: z.number() }),
    disk: z.strictObject({ mount: str, total_bytes: z.number(), used_bytes: z.number(), free_bytes: z.number() }),
  }),
  tool_statuses: z.array(
    z.strictObject({
      account_tool_instance_id: str,
      status_on_toolbox: z.enum(["running", "stopped", "error", "deploying"]),
      runtime_details: z.strictObject({
        container_id: str,
        image: str,
        started_at: str.nullable(),
        state_details: z.strictObject({ state: str, instance_name: str, kind: str }),
        transport: str.optional(),
        health_status: str.optional(),
        oauth: z.array(z.strictObject({ connection_id: str, provider: str.nullable(), status: str, expires_at: str.nullable() })).optional(),
      }),
    }),
  ),
})

/** The body back in the DTMA's terms. */
const reportOf = (body: z.infer<typeof HeartbeatBody>): HeartbeatReport => {
  const { memory, disk } = body.system_status
  return {
    dtmaVersion: body.dtma_version,
    system: {
      cpuLoadPercent: body.system_status.cpu_load_percent,
      memory: { totalBytes: memory.total_bytes, activeBytes: memory.active_bytes, freeBytes: memory.free_bytes, usedBytes: memory.used_bytes },
      disk: { mount: disk.mount, totalBytes: disk.total_bytes, usedBytes: disk.used_bytes, freeBytes: disk.free_bytes },
    },
    tools: body.tool_statuses.map(({ runtime_details: r, ...t }) => ({
      accountToolInstanceId: t.account_tool_instance_id,
      statusOnToolbox: t.status_on_toolbox,
      containerId: r.container_id,
      image: r.image,
      startedAt: r.started_at,
      state: r.state_details.state,
      instanceName: r.state_details.instance_name,
      kind: r.state_details.kind,
      mcp:
        r.transport === undefined || r.health_status === undefined
          ? null
          : {
              transport: r.transport,
              health: r.health_status,
              oauth: r.oauth?.map((o) => ({ connectionId: o.connection_id, provider: o.provider, status: o.status, expiresAt: o.expires_at })),
            },
    })),
  }
}

const FAULTS: Record<Exclude<BackendFault, "unreachable" | "silent">, number> = { server_error: 503, busy: 429, unknown_token: 401, bad_request: 400 }

/**
 * The backend over loopback: it serves only `POST …/heartbeat` with the DTMA's bearer token and a
 * heartbeat body, and its error answers echo the authorization they got, in body and reason phrase.
 */
const loopbackBackend = () => {
  const accepted: Array<HeartbeatReport> = []
  const faults: Array<BackendFault> = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = ""
    req.on("data", (c: Buffer) => (text += c.toString()))
    req.on("end", () => {
      const got = req.headers.authorization ?? ""
      const answer = (status: number, error: string) =>
        res.writeHead(status, `${error} (got ${got})`, { "content-type": "application/json" }).end(JSON.stringify({ error, received_authorization: got }))
      if (req.method !== "POST" || req.url !== "/functions/v1/heartbeat") return answer(404, "no such function")
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return answer(401, "unknown DTMA token")
      if (req.headers["content-type"] !== "application/json") return answer(415, "JSON only")
      const fault = faults.shift()
      if (fault === "unreachable") return req.socket.destroy()
      if (fault === "silent") return
      if (fault !== undefined) return answer(FAULTS[fault], `failed as ${fault}`)
      const body = HeartbeatBody.safeParse(JSON.parse(text))
      if (!body.success) return answer(400, "not a heartbeat")
      accepted.push(reportOf(body.data))
      res.writeHead(204).end()
    })
  })
  return { server, accepted, faults }
}

controlPlaneContract("AgentopiaControlPlane over a loopback backend", async () => {
  const { server, accepted, faults } = loopbackBackend()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  const timeoutMs = 300
  return {
    controlPlane: makeAgentopiaControlPlane({ baseUrl: `http://127.0.0.1:${port}/functions/v1`, token: Redacted.make(TOKEN), timeoutMs }),
    failNext: (fault) => void faults.push(fault),
    accepted: () => accepted,
    token: TOKEN,
    timeoutMs,
    cleanup: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  }
})
