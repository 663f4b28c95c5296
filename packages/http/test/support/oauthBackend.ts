import { randomBytes, randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { OAuth2Server } from "oauth2-mock-server"

/** How the backend treats a connection: hands out tokens, or refuses as the spec says. */
export type ConnectionState = "ok" | "forbidden" | "missing" | "reauthorization_required"

export interface BackendConnection {
  readonly provider: string
  readonly scopes?: ReadonlyArray<string>
  /** Lifetime of each token minted; null for a token without `exp` (`expires_at: null`). Default 3600. */
  readonly lifetimeSeconds?: number | null
  readonly state?: ConnectionState
  /** Wait this long before answering a request for this connection (a slow provider, to trip a client's timeout). */
  readonly delayMs?: number
}

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  /** Unix ms when the request arrived. */
  readonly at: number
  /** The parsed JSON body (the raw text when it is not JSON). */
  readonly body: unknown
  /** Whether it carried the expected bearer token. */
  readonly authorized: boolean
}

export interface MintedToken {
  readonly connectionId: string
  readonly provider: string
  readonly token: string
  /** Unix ms; null without expiry. */
  readonly expiresAt: number | null
  readonly at: number
}

export interface OAuthBackendOptions {
  /** The bearer token the DTMA must present; default a random one. */
  readonly token?: string
  readonly connections?: Readonly<Record<string, BackendConnection>>
  /** Legacy tool secrets by accountToolInstanceId. */
  readonly toolSecrets?: Readonly<Record<string, Readonly<Record<string, string | null>>>>
  /** Source of randomness for `failRate`; default Math.random. */
  readonly random?: () => number
}

/** The Agentopia backend's credential functions, on loopback, with faults to inject and a record of everything. */
export interface OAuthBackend {
  /** The base URL (`AGENTOPIA_API_BASE_URL`): routes are `${url}/get-mcp-oauth-credentials` and `${url}/get-agent-tool-credentials`. */
  readonly url: string
  readonly token: string
  /** The issuer of minted JWTs (`iss`); its keys are at `${issuerUrl}/jwks`. */
  readonly issuerUrl: string
  readonly connections: Map<string, BackendConnection>
  readonly toolSecrets: Map<string, Readonly<Record<string, string | null>>>
  readonly requests: ReadonlyArray<RecordedRequest>
  readonly minted: ReadonlyArray<MintedToken>
  /** Share (0..1) of requests answered with a random 5xx. */
  failRate: number
  /** `"reset"`: connections are destroyed unanswered; `"503"`: every request gets 503; false: up. */
  down: false | "reset" | "503"
  /** Wait this long before answering each request (to trip a client's timeout). */
  delayMs: number
  /** Sets a connection's state, keeping the rest. */
  setState(connectionId: string, state: ConnectionState): void
  close(): Promise<void>
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = ""
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => (text += chunk))
    req.on("end", () => resolve(text))
    req.on("error", reject)
  })

const parsed = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

const reply = (res: ServerResponse, status: number, body: unknown): void => {
  if (res.destroyed) return
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts the double on 127.0.0.1 (random port) with a started `oauth2-mock-server` as the token issuer. */
export const startOAuthBackend = async (options: OAuthBackendOptions = {}): Promise<OAuthBackend> => {
  const issuer = new OAuth2Server()
  await issuer.issuer.keys.generate("RS256")
  await issuer.start(0, "127.0.0.1")
  issuer.issuer.url = `http://127.0.0.1:${issuer.address().port}`
  const random = options.random ?? Math.random
  const requests: Array<RecordedRequest> = []
  const minted: Array<MintedToken> = []
  const token = options.token ?? `dtma-backend-${randomBytes(8).toString("hex")}`

  const mint = async (connectionId: string, connection: BackendConnection) => {
    const lifetime = connection.lifetimeSeconds === undefined ? 3600 : connection.lifetimeSeconds
    const claims: { exp: number | null } = { exp: null }
    const jwt = await issuer.issuer.buildToken({
      expiresIn: lifetime ?? 3600,
      scopesOrTransform: (_header, payload) => {
        Object.assign(payload, { sub: connectionId, provider: connection.provider, scope: (connection.scopes ?? []).join(" "), jti: randomUUID() })
        if (lifetime === null) Reflect.deleteProperty(payload, "exp")
        claims.exp = typeof payload["exp"] === "number" ? payload["exp"] : null
      },
    })
    const expiresAt = claims.exp === null ? null : claims.exp * 1000
    minted.push({ connectionId, provider: connection.provider, token: jwt, expiresAt, at: Date.now() })
    return {
      connection_id: connectionId,
      provider: connection.provider,
      access_token: jwt,
      token_type: "Bearer",
      expires_at: expiresAt === null ? null : new Date(expiresAt).toISOString(),
      scopes: [...(connection.scopes ?? [])],
    }
  }

  const backend: OAuthBackend = {
    url: "",
    token,
    issuerUrl: issuer.issuer.url,
    connections: new Map(Object.entries(options.connections ?? {})),
    toolSecrets: new Map(Object.entries(options.toolSecrets ?? {})),
    requests,
    minted,
    failRate: 0,
    down: false,
    delayMs: 0,
    setState: (connectionId, state) => {
      const connection = backend.connections.get(connectionId)
      if (connection === undefined) throw new Error(`no connection ${connectionId}`)
      backend.connections.set(connectionId, { ...connection, state })
    },
    close: async () => {
      server.closeAllConnections()
      await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), issuer.stop()])
    },
  }

  const credentials = async (body: unknown, res: ServerResponse): Promise<void> => {
    const ids = (body as { oauthConnectionIds?: unknown } | null)?.oauthConnectionIds
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string"))
      return reply(res, 400, { error: "invalid_request", message: "oauthConnectionIds must be an array of strings" })
    const delay = Math.max(0, ...ids.map((id) => backend.connections.get(id)?.delayMs ?? 0))
    if (delay > 0) await sleep(delay)
    for (const id of ids) {
      const connection = backend.connections.get(id)
      const state = connection === undefined ? "missing" : (connection.state ?? "ok")
      if (state === "missing") return reply(res, 404, { error: "connection_not_found", connection_id: id })
      if (state === "forbidden") return reply(res, 403, { error: "forbidden", connection_id: id })
      if (state === "reauthorization_required") return reply(res, 409, { error: "reauthorization_required", connection_id: id })
    }
    const handedOut = []
    for (const id of ids) handedOut.push(await mint(id, backend.connections.get(id)!))
    reply(res, 200, { credentials: handedOut })
  }

  const toolSecrets = (body: unknown, res: ServerResponse): void => {
    const id = (body as { accountToolInstanceId?: unknown } | null)?.accountToolInstanceId
    const secrets = typeof id === "string" ? backend.toolSecrets.get(id) : undefined
    if (secrets === undefined) return reply(res, 404, { error: "tool_not_in_toolbelt" })
    reply(res, 200, { secrets })
  }

  const server = createServer((req, res) => {
    void (async () => {
      const body = parsed(await readBody(req))
      const authorized = req.headers.authorization === `Bearer ${token}`
      requests.push({ method: req.method ?? "", path: req.url ?? "", at: Date.now(), body, authorized })
      if (backend.delayMs > 0) await sleep(backend.delayMs)
      if (backend.down === "reset") return void req.socket.destroy()
      if (backend.down === "503") return reply(res, 503, { error: "unavailable" })
      if (req.method !== "POST") return reply(res, 405, { error: "method_not_allowed" })
      if (!authorized) return reply(res, 401, { error: "unauthorized" })
      if (random() < backend.failRate) return reply(res, [500, 502, 503, 504][Math.floor(random() * 4)] ?? 500, { error: "injected" })
      if (req.url === "/get-mcp-oauth-credentials") return credentials(body, res)
      if (req.url === "/get-agent-tool-credentials") return toolSecrets(body, res)
      reply(res, 404, { message: "Function not found" })
    })().catch(() => res.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  Object.assign(backend, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })
  return backend
}
