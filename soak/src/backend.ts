import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage } from "node:http"

/** A stand-in for the Agentopia backend: mints short-lived OAuth tokens and takes heartbeats. */
export interface Backend {
  /** `AGENTOPIA_API_BASE_URL`. */
  readonly url: string
  /** Every token value minted, to look for in the DTMA's log afterwards. */
  readonly minted: ReadonlyArray<string>
  readonly requests: { credentials: number; heartbeats: number; other: number }
  close(): Promise<void>
}

const PROVIDERS: Readonly<Record<string, string>> = { "soak-github": "github", "soak-slack": "slack" }

const bodyOf = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = ""
    req.setEncoding("utf8")
    req.on("data", (c: string) => (text += c))
    req.on("end", () => resolve(text))
    req.on("error", reject)
  })

/** Starts the backend on loopback; tokens live `lifetimeSeconds`, so the DTMA refreshes them during the soak. */
export const startBackend = async (bearer: string, lifetimeSeconds: number, port: number): Promise<Backend> => {
  const minted: Array<string> = []
  const requests = { credentials: 0, heartbeats: 0, other: 0 }
  const server = createServer((req, res) => {
    void bodyOf(req).then(
      (text) => {
        const reply = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))
        if (req.headers.authorization !== `Bearer ${bearer}`) return reply(401, { error: "unauthorized" })
        if (req.url === "/heartbeat") return (requests.heartbeats++, reply(200, { success: true }))
        if (req.url !== "/get-mcp-oauth-credentials") return (requests.other++, reply(404, { error: "not found" }))
        requests.credentials++
        const ids = (JSON.parse(text) as { oauthConnectionIds?: ReadonlyArray<string> }).oauthConnectionIds ?? []
        const unknown = ids.find((id) => PROVIDERS[id] === undefined)
        if (unknown !== undefined) return reply(404, { error: "unknown connection", connection_id: unknown })
        const credentials = ids.map((id) => {
          const token = `soak-token-${randomBytes(18).toString("base64url")}`
          minted.push(token)
          return {
            connection_id: id,
            provider: PROVIDERS[id],
            access_token: token,
            token_type: "Bearer",
            expires_at: new Date(Date.now() + lifetimeSeconds * 1000).toISOString(),
            scopes: ["repo"],
          }
        })
        return reply(200, { credentials })
      },
      () => res.writeHead(400).end(),
    )
  })
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${port}`,
    minted,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}

/** Connection ids the backend knows, for the fleet's OAuth servers. */
export const CONNECTIONS = Object.keys(PROVIDERS)
