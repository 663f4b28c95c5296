import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Redacted } from "effect"
import { credentialSourceContract } from "@dtma/testing"
import { makeAgentopiaCredentialSource } from "../../src/agentopia/AgentopiaCredentialSource.ts"

const DTMA_TOKEN = "dtma-token-contract"
const connections = [
  { connectionId: "conn-gh", provider: "github", scopes: ["repo", "read:org"] },
  { connectionId: "conn-slack", provider: "slack", scopes: [] },
]
const secrets = { API_KEY: "k-123", UNSET: null, REGION: "eu" }

/** The backend as the spec describes it, over loopback: known connections, a reauthorization, one tool. */
const backendDouble = () =>
  createServer((req, res) => {
    let text = ""
    req.on("data", (c: Buffer) => (text += c.toString()))
    req.on("end", () => {
      const reply = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))
      if (req.headers.authorization !== `Bearer ${DTMA_TOKEN}`) return reply(401, { error: "unauthorized" })
      const body = JSON.parse(text) as Record<string, unknown>
      if (req.url === "/get-mcp-oauth-credentials") {
        const ids = body["oauthConnectionIds"] as ReadonlyArray<string>
        for (const id of ids) {
          if (id === "conn-reauth") return reply(409, { error: "reauthorization_required", connection_id: id })
          if (!connections.some((c) => c.connectionId === id)) return reply(404, { error: "connection_not_found", connection_id: id })
        }
        const expires_at = new Date(Date.now() + 3_600_000).toISOString()
        return reply(200, {
          credentials: ids.map((id) => {
            const c = connections.find((k) => k.connectionId === id)!
            return { connection_id: id, provider: c.provider, access_token: `token-${id}`, token_type: "Bearer", expires_at, scopes: c.scopes }
          }),
        })
      }
      if (req.url === "/get-agent-tool-credentials") {
        return body["accountToolInstanceId"] === "ati-tool" ? reply(200, { secrets }) : reply(404, { error: "tool_not_in_toolbelt" })
      }
      res.writeHead(404).end()
    })
  })

credentialSourceContract("AgentopiaCredentialSource over a loopback backend double", async () => {
  const server = backendDouble()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    source: makeAgentopiaCredentialSource({
      baseUrl: `http://127.0.0.1:${port}`,
      token: Redacted.make(DTMA_TOKEN),
      timeoutMs: 1000,
      retries: 1,
      retryBaseMs: 5,
    }),
    agentId: "agent-1",
    accountToolInstanceId: "ati-mcp",
    connections,
    unknownConnectionId: "conn-unknown",
    reauthorizeConnectionId: "conn-reauth",
    toolSecrets: { accountToolInstanceId: "ati-tool", secrets },
    cleanup: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  }
})
