// A stdio MCP server that reads what the DTMA delivers to it, for tests of credential delivery:
//
//   read-socket-credentials {provider?}  GET /v1/credentials[/<provider>] on the Unix socket named by
//                                        env DTMA_CREDENTIALS_SOCKET; answers the JSON text
//   read-file {path}                     the text of a file (e.g. /run/secrets/dtma/github/access_token)
//
// Failures (no socket, a non-200 answer, a missing file) come back as tool errors saying why.
import { readFile } from "node:fs/promises"
import { request } from "node:http"
import process from "node:process"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { z } from "zod"

const text = (value, isError = false) => ({ content: [{ type: "text", text: value }], ...(isError ? { isError: true } : {}) })

const get = (socketPath, path) =>
  new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: "GET", agent: false, timeout: 5000 }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk) => (body += chunk))
      res.on("end", () => resolve({ status: res.statusCode, body }))
    })
    req.on("timeout", () => req.destroy(new Error("timed out")))
    req.on("error", reject)
    req.end()
  })

const server = new McpServer({ name: "mcp-credentials", version: "1.0.0" })

server.registerTool(
  "read-socket-credentials",
  {
    description: "GET /v1/credentials (or /v1/credentials/<provider>) on the DTMA's credential socket; answers the JSON text",
    inputSchema: { provider: z.string().optional() },
  },
  async ({ provider }) => {
    const socketPath = process.env.DTMA_CREDENTIALS_SOCKET
    if (!socketPath) return text("DTMA_CREDENTIALS_SOCKET is not set", true)
    const path = provider === undefined ? "/v1/credentials" : `/v1/credentials/${encodeURIComponent(provider)}`
    try {
      const { status, body } = await get(socketPath, path)
      return status === 200 ? text(body) : text(`GET ${path} answered ${status}: ${body}`, true)
    } catch (e) {
      return text(`GET ${path} on ${socketPath} failed: ${e.code ?? e.message}`, true)
    }
  },
)

server.registerTool(
  "read-file",
  { description: "The text of a file", inputSchema: { path: z.string() } },
  async ({ path }) => {
    try {
      return text(await readFile(path, "utf8"))
    } catch (e) {
      return text(`cannot read ${path}: ${e.code ?? e.message}`, true)
    }
  },
)

await server.connect(new StdioServerTransport())
process.stderr.write("mcp-credentials started\n")
