// The floor of the closed-loop figures: a bare node:http server that answers what the DTMA answers
// and does nothing else (no auth, audit, logging, proxying). `node bench/lib/floorServer.ts <port> <listBytes>`:
// - `GET` with an `If-None-Match` naming its tag: a bodiless 304 (the discovery's), else a 200 with a small JSON,
//   or with the bytes of the file `discoveryBody` when given (`node bench/lib/floorServer.ts <port> <listBytes> <file>`),
//   gzipped once at start for a caller that accepts gzip, as the DTMA answers discovery;
// - Streamable HTTP MCP on `POST`: `initialize` (a session id), `notifications/initialized` (202),
//   `ping` (an empty result) and `tools/list` (a fixed body of about `listBytes`, serialised once:
//   its id in front of the same bytes, as the DTMA writes a cached page); `DELETE` ends a session.
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import { gzipSync } from "node:zlib"

const [portArg = "0", listBytesArg = "179000", discoveryBodyFile] = process.argv.slice(2)
const TAG = 'W/"0123456789abcdef"'
const tool = (i: number) => ({
  name: `floor__tool-${i}`,
  description: "A tool of the floor server, as long as a real one's description.",
  inputSchema: { type: "object", properties: { text: { type: "string" } } },
})
const tools: Array<ReturnType<typeof tool>> = []
while (JSON.stringify(tools).length < Number(listBytesArg)) tools.push(tool(tools.length))
const listTail = Buffer.from(`"result":${JSON.stringify({ tools })}}`)
const discoveryBody = discoveryBodyFile === undefined ? Buffer.from('{"success":true,"data":{"servers":[]}}') : readFileSync(discoveryBodyFile)
const discoveryGzipped = gzipSync(discoveryBody)

const server = createServer((req, res) => {
  if (req.method === "GET") {
    req.resume()
    if (req.headers["if-none-match"] === TAG) {
      res.writeHead(304, { etag: TAG, "cache-control": "no-cache", vary: "Accept-Encoding" })
      res.end()
      return
    }
    const gzip = /\bgzip\b/.test(req.headers["accept-encoding"] ?? "")
    const body = gzip ? discoveryGzipped : discoveryBody
    res.writeHead(200, {
      etag: TAG,
      "content-type": "application/json",
      "content-length": body.length,
      vary: "Accept-Encoding",
      ...(gzip ? { "content-encoding": "gzip" } : {}),
    })
    res.end(body)
    return
  }
  if (req.method === "DELETE") {
    req.resume()
    res.writeHead(200).end()
    return
  }
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    const message = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id?: number; method: string }
    if (message.id === undefined) {
      res.writeHead(202).end()
      return
    }
    const head = `{"jsonrpc":"2.0","id":${message.id},`
    if (message.method === "tools/list") {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(head) + listTail.length })
      res.cork()
      res.write(head)
      res.end(listTail)
      return
    }
    const result =
      message.method === "initialize" ? { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "floor", version: "1" } } : {}
    res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "floor-session" })
    res.end(`${head}"result":${JSON.stringify(result)}}`)
  })
})
server.listen(Number(portArg), "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`${typeof address === "object" && address !== null ? address.port : portArg}\n`)
})
