// Example "standard tool" for the DTMA: a small HTTP service. GET / reports which TOOL_* variables
// it was given (names only, never values), so tests can check environment injection safely.
import { createServer } from "node:http"

const port = Number(process.env.PORT || 8080)

const send = (res, status, body) => {
  const data = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data) })
  res.end(data)
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://localhost").pathname
  if (path !== "/") return send(res, 404, { ok: false, error: "not found" })
  if (req.method !== "GET") return send(res, 405, { ok: false, error: "method not allowed" })
  const envNames = Object.keys(process.env).filter((name) => name.startsWith("TOOL_")).sort()
  send(res, 200, { ok: true, service: "example-http", envNames })
})

server.listen(port, () => console.log(`example-http listening on port ${port}`))

const shutdown = (signal) => {
  console.log(`example-http received ${signal}, closing`)
  server.close(() => process.exit(0))
  server.closeIdleConnections()
  setTimeout(() => process.exit(0), 3000).unref()
}
process.once("SIGTERM", () => shutdown("SIGTERM"))
process.once("SIGINT", () => shutdown("SIGINT"))
