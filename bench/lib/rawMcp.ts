import { Agent, request } from "node:http"
import type { Operation } from "./load.ts"

// A bare Streamable HTTP MCP client on node:http keep-alive sockets: no SDK, no parsing of large
// answers. For figures where the clients' own CPU would otherwise weigh on the DTMA's (32 clients
// each receiving a list of hundreds of tools share the DTMA's two cores).

const PROTOCOL_VERSION = "2025-11-25"

interface Answer {
  readonly status: number
  readonly sessionId: string | null
  readonly body: string
}

const post = (agent: Agent, url: URL, headers: Readonly<Record<string, string>>, body: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        agent,
        method: "POST",
        headers: {
          ...headers,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => {
          const session = res.headers["mcp-session-id"]
          resolve({ status: res.statusCode ?? 0, sessionId: typeof session === "string" ? session : null, body: Buffer.concat(chunks).toString("utf8") })
        })
        res.on("error", reject)
      },
    )
    req.on("error", reject)
    req.end(body)
  })

/** One initialized session on an MCP endpoint. */
export interface RawSession {
  /** Sends one request and answers its JSON-RPC response's text, as the DTMA wrote it (one JSON body). */
  send(id: number, method: string, params?: Readonly<Record<string, unknown>>): Promise<string>
  close(): Promise<void>
}

/** Initializes a session on `url` (`initialize`, then `notifications/initialized`), on a socket of `agent`. */
export const openRawSession = async (agent: Agent, url: string, token: string): Promise<RawSession> => {
  const target = new URL(url)
  const auth = { authorization: `Bearer ${token}` }
  const hello = await post(
    agent,
    target,
    auth,
    JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "dtma-bench-raw", version: "1.0.0" } },
    }),
  )
  if (hello.status !== 200 || hello.sessionId === null) throw new Error(`initialize on ${url} answered ${hello.status}: ${hello.body.slice(0, 300)}`)
  const headers = { ...auth, "mcp-session-id": hello.sessionId, "mcp-protocol-version": PROTOCOL_VERSION }
  const initialized = await post(agent, target, headers, JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }))
  if (initialized.status !== 202) throw new Error(`notifications/initialized on ${url} answered ${initialized.status}`)
  return {
    async send(id, method, params) {
      const answer = await post(agent, target, headers, JSON.stringify({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) }))
      if (answer.status !== 200) throw new Error(`${method} answered ${answer.status}: ${answer.body.slice(0, 300)}`)
      return answer.body
    },
    async close() {
      await new Promise<void>((resolve) => {
        const req = request(target, { agent, method: "DELETE", headers }, (res) => res.resume().on("end", resolve))
        req.on("error", () => resolve())
        req.end()
      })
    },
  }
}

/**
 * `method` in a loop, each answer checked without parsing it: it must be the response to that very
 * request (its id) and exactly as long as the first answer, id aside. A list that came back with an
 * item more or less, or another request's answer, counts as an error.
 */
export const checkedRequest = async (session: RawSession, method: string): Promise<{ readonly operation: Operation; readonly bytes: number }> => {
  const first = await session.send(0, method)
  const bytes = Buffer.byteLength(first)
  return {
    bytes,
    operation: async (sequence) => {
      const answer = await session.send(sequence, method)
      const head = `{"jsonrpc":"2.0","id":${sequence},`
      if (!answer.startsWith(head) || Buffer.byteLength(answer) - String(sequence).length !== bytes - 1) {
        throw new Error(`${method} ${sequence} answered ${Buffer.byteLength(answer)} bytes starting '${answer.slice(0, 80)}', not ${bytes} like the first`)
      }
    },
  }
}
