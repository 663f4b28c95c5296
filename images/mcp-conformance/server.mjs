// The conformance fixture (fixture.mjs) over the transport the first argument names:
//
//   stdio (default)   one session on stdin/stdout
//   http              Streamable HTTP at http://<host>:$PORT/mcp (PORT default 3001): a server per
//                     session, resumable event streams (an in-memory event store), and DNS rebinding
//                     protection: a Host or Origin that names a host other than localhost or an IP
//                     address is refused with 403 (only a DNS name can be rebound).
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import { isIP } from "node:net"
import process from "node:process"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js"
import { fixtureServer } from "./fixture.mjs"

process.on("SIGTERM", () => process.exit(0))
process.on("SIGINT", () => process.exit(0))

/** Every event of every stream of one session, so a client that reconnects with Last-Event-ID gets what it missed. */
class SessionEventStore {
  #events = [] // { id, streamId, message }
  #next = 0
  async storeEvent(streamId, message) {
    const id = `${streamId}_${++this.#next}`
    this.#events.push({ id, streamId, message })
    return id
  }
  async getStreamIdForEventId(eventId) {
    return this.#events.find((e) => e.id === eventId)?.streamId
  }
  async replayEventsAfter(lastEventId, { send }) {
    const at = this.#events.findIndex((e) => e.id === lastEventId)
    if (at < 0) return ""
    const { streamId } = this.#events[at]
    for (const e of this.#events.slice(at + 1)) if (e.streamId === streamId) await send(e.id, e.message)
    return streamId
  }
}

const LOCAL_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"])
const hostnameOf = (hostAndPort) => {
  try {
    return new URL(`http://${hostAndPort}`).hostname
  } catch {
    return null
  }
}
const mayBeRebound = (hostname) => hostname === null || !(LOCAL_NAMES.has(hostname) || isIP(hostname.replace(/^\[|\]$/g, "")) !== 0)
const rebindingProblem = (req) => {
  if (mayBeRebound(hostnameOf(req.headers.host ?? ""))) return `Host ${JSON.stringify(req.headers.host ?? "")} is not localhost or an IP address`
  const origin = req.headers.origin
  if (origin === undefined) return null
  let hostname = null
  try {
    hostname = new URL(origin).hostname
  } catch {}
  return mayBeRebound(hostname) ? `Origin ${JSON.stringify(origin)} is not localhost or an IP address` : null
}

const refuse = (res, status, code, message) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }))
}

const readJson = async (req) => {
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString("utf8"))
}

const serveHttp = (port) => {
  const sessions = new Map() // session id → transport
  const http = createServer(async (req, res) => {
    try {
      if (new URL(req.url ?? "/", "http://localhost").pathname !== "/mcp") return refuse(res, 404, -32000, "Not found: the MCP endpoint is /mcp")
      const problem = rebindingProblem(req)
      if (problem !== null) return refuse(res, 403, -32000, `Forbidden: ${problem}`)
      const sessionId = req.headers["mcp-session-id"]
      if (sessionId !== undefined) {
        const transport = sessions.get(sessionId)
        if (transport === undefined) return refuse(res, 404, -32001, "Session not found")
        return await transport.handleRequest(req, res)
      }
      if (req.method !== "POST") return refuse(res, 400, -32000, "Bad Request: an Mcp-Session-Id header is required")
      let body
      try {
        body = await readJson(req)
      } catch {
        return refuse(res, 400, -32700, "Parse error: the body is not JSON")
      }
      if (!isInitializeRequest(body)) return refuse(res, 400, -32000, "Bad Request: no session; send initialize first")
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        eventStore: new SessionEventStore(),
        retryInterval: 500,
        onsessioninitialized: (id) => sessions.set(id, transport),
      })
      transport.onclose = () => {
        if (transport.sessionId !== undefined) sessions.delete(transport.sessionId)
      }
      await fixtureServer().connect(transport)
      await transport.handleRequest(req, res, body)
    } catch (error) {
      console.error(`request failed: ${error instanceof Error ? error.message : String(error)}`)
      if (!res.headersSent) refuse(res, 500, -32603, "Internal error")
      else res.end()
    }
  })
  http.listen(port, "0.0.0.0", () => console.error(`dtma-conformance-fixture: Streamable HTTP on port ${port}, path /mcp`))
}

const mode = process.argv[2] ?? "stdio"
if (mode === "stdio") await fixtureServer().connect(new StdioServerTransport())
else if (mode === "http") serveHttp(Number(process.env.PORT ?? 3001))
else {
  console.error(`unknown mode ${JSON.stringify(mode)}: use stdio or http`)
  process.exit(2)
}
