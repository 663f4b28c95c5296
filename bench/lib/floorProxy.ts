// The floor of a proxied call: the least any MCP proxy in Node must do to put a Streamable HTTP
// client's call through to a stdio server in a container, and nothing else (no auth, audit, logging,
// sessions, validation, timeouts). `node bench/lib/floorProxy.ts <container id>` attaches to the
// container (created, not started), starts it, listens on a free loopback port and prints it. Then:
// - `POST` of one JSON-RPC request: its id swapped for the proxy's own, the line written to the
//   attach stream; the server's answer (stdout demultiplexed, split into lines) gets the client's id
//   back and is the HTTP answer, as JSON. `initialize` is sent to the server once and its result kept
//   for the later clients; a notification is answered 202 and not sent on;
// - `DELETE` 200, `GET` 405 (no stream).
// What it costs in CPU per call, next to the DTMA's, is what the DTMA's own layers add.
import { createServer, type ServerResponse } from "node:http"
import type { Duplex } from "node:stream"
import { docker } from "./docker.ts"

const [containerId] = process.argv.slice(2)
if (containerId === undefined) throw new Error("usage: node bench/lib/floorProxy.ts <container id>")
const container = docker.getContainer(containerId)
const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex

interface Pending {
  readonly res: ServerResponse
  readonly clientId: string | number
  readonly initialize: boolean
}
const pending = new Map<number, Pending>()
let nextId = 0
let initializeResult: unknown

const answer = (res: ServerResponse, body: string) => {
  res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "floor-session", "content-length": Buffer.byteLength(body) })
  res.end(body)
}

const onLine = (line: string) => {
  const message = JSON.parse(line) as { id?: number; result?: unknown }
  const waiting = message.id === undefined ? undefined : pending.get(message.id)
  if (waiting === undefined) return
  pending.delete(message.id as number)
  if (waiting.initialize) initializeResult = message.result
  answer(waiting.res, JSON.stringify({ ...message, id: waiting.clientId }))
}

// Docker's multiplexed frames: an 8-byte header (stream, 3 zero bytes, a big-endian length), then
// the payload; stdout's payload is the server's newline-delimited JSON.
let frames: Buffer = Buffer.alloc(0)
let text = ""
stream.on("data", (chunk: Buffer) => {
  frames = frames.length === 0 ? chunk : Buffer.concat([frames, chunk])
  while (frames.length >= 8) {
    const size = frames.readUInt32BE(4)
    if (frames.length < 8 + size) break
    if (frames[0] === 1) text += frames.toString("utf8", 8, 8 + size)
    frames = frames.subarray(8 + size)
  }
  let end = text.indexOf("\n")
  while (end !== -1) {
    onLine(text.slice(0, end))
    text = text.slice(end + 1)
    end = text.indexOf("\n")
  }
})

const server = createServer((req, res) => {
  if (req.method !== "POST") {
    req.resume()
    res.writeHead(req.method === "DELETE" ? 200 : 405).end()
    return
  }
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    const message = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id?: string | number; method: string }
    if (message.id === undefined) {
      res.writeHead(202).end()
      return
    }
    const initialize = message.method === "initialize"
    if (initialize && initializeResult !== undefined) {
      answer(res, JSON.stringify({ jsonrpc: "2.0", id: message.id, result: initializeResult }))
      return
    }
    const id = nextId++
    pending.set(id, { res, clientId: message.id, initialize })
    stream.write(`${JSON.stringify({ ...message, id })}\n`)
  })
})

await container.start()
server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`${typeof address === "object" && address !== null ? address.port : 0}\n`)
})
