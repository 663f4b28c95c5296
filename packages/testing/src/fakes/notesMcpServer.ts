import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { z } from "zod"
import type { McpServerFactory } from "./InMemoryMcpConnector.ts"

/**
 * A small real MCP server that keeps what it is told, per process (what `server-memory` keeps in
 * its graph): `remember` a text, `recall` them all (joined by commas). With `hold`, a `hold` tool
 * too, answering once the promise `hold` returns settles: a call kept in flight for as long as a test wants.
 */
export const notesMcpServerWith =
  (options: { readonly hold?: () => Promise<void> } = {}): McpServerFactory =>
  () => {
    const server = new McpServer({ name: "notes", version: "1.0.0" })
    const notes: Array<string> = []
    server.registerTool("remember", { inputSchema: { text: z.string() } }, ({ text }) => {
      notes.push(text)
      return { content: [{ type: "text", text: "ok" }] }
    })
    server.registerTool("recall", {}, () => ({ content: [{ type: "text", text: notes.join(",") }] }))
    const { hold } = options
    if (hold !== undefined) {
      server.registerTool("hold", {}, async () => {
        await hold()
        return { content: [{ type: "text", text: "released" }] }
      })
    }
    return server
  }

/** `notesMcpServerWith()`: `remember` and `recall`. */
export const notesMcpServer: McpServerFactory = notesMcpServerWith()
