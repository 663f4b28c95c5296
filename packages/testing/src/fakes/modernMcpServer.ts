/* oxlint-disable unicorn/prefer-add-event-listener -- the SDK's Transport has callback properties, not events */
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"

const PV = "io.modelcontextprotocol/protocolVersion"
const SERVER_INFO = { "io.modelcontextprotocol/serverInfo": { name: "dtma-modern", version: "2.0.0" } }

type Fields = Record<string, unknown>

/** A request as the modern server received it. */
export interface ModernReceived {
  readonly method: string
  readonly params: Fields
}

/**
 * A hand-written server that speaks only MCP 2026-07-28 (basic/versioning.mdx), served over an SDK
 * `Transport` as `InMemoryMcpConnector` serves its servers: it refuses `initialize` (`-32022`, naming
 * the revision it speaks), answers `server/discover`, and refuses any request without the
 * per-request envelope (`-32602`) and `ping` (`-32601`: gone in 2026-07-28). Two tools: `echo`
 * answers its `text`; `greet` asks for a `name` (`input_required`, an elicitation and a
 * `requestState`) and greets it once the retry carries the answer. It sends tool list changes
 * (`listChanged`) on a `subscriptions/listen` stream (subscriptions.mdx: acknowledged, then each
 * change under the listen's id) when `addTool` adds one; one resource, `memo://note`, whose updates
 * (`updateNote`) go to the listens subscribed to it; `log` logs a warning first when the request's
 * envelope names a log level (logging.mdx). `received` keeps every request.
 */
export class ModernMcpServer {
  readonly received: Array<ModernReceived> = []
  #transport: Transport | null = null
  #tools: Array<Fields> = [...TOOLS]
  #note = "first"
  /** The ids of the listens open for tool list changes. */
  #listening: Array<string | number> = []
  /** The ids of the listens open for the note's updates. */
  #watching: Array<string | number> = []

  /** Rewrites the one resource, `memo://note`, and tells every listen subscribed to it. */
  async updateNote(text: string): Promise<void> {
    this.#note = text
    for (const id of this.#watching) await this.#notify("notifications/resources/updated", id, { uri: NOTE })
  }

  /** Adds a tool that answers like `echo`, and tells every open listen that the tools changed. */
  async addTool(name: string): Promise<void> {
    this.#tools.push({ ...TOOLS[0], name })
    for (const id of this.#listening) await this.#notify("notifications/tools/list_changed", id)
  }

  #notify(method: string, subscription: string | number, params: Fields = {}): Promise<void> | undefined {
    const message = { jsonrpc: "2.0", method, params: { ...params, _meta: { "io.modelcontextprotocol/subscriptionId": subscription } } }
    return this.#transport?.send(message as JSONRPCMessage)
  }

  async connect(transport: Transport): Promise<void> {
    this.#transport = transport
    transport.onmessage = (message) => void this.#handle(message as Fields)
    await transport.start()
  }

  async close(): Promise<void> {
    await this.#transport?.close()
  }

  async #handle(message: Fields): Promise<void> {
    if (message["method"] === "notifications/cancelled") {
      // A listen ends when its client cancels it (subscriptions.mdx, "Cancellation").
      const ended = ((message["params"] ?? {}) as Fields)["requestId"]
      this.#listening = this.#listening.filter((id) => id !== ended)
      this.#watching = this.#watching.filter((id) => id !== ended)
      return
    }
    if (typeof message["method"] !== "string" || !("id" in message)) return
    const method = message["method"]
    const params = (message["params"] ?? {}) as Fields
    this.received.push({ method, params })
    const id = message["id"] as string | number
    if (method === "subscriptions/listen") return this.#listen(id, params)
    // `log` logs, before its answer, only for a request whose envelope names a level (logging.mdx).
    const level = ((params["_meta"] ?? {}) as Fields)["io.modelcontextprotocol/logLevel"]
    if (method === "tools/call" && params["name"] === "log" && typeof level === "string")
      await this.#transport?.send({ jsonrpc: "2.0", method: "notifications/message", params: { level: "warning", data: `logged at ${level} or above` } })
    const answer = this.#answer(method, params)
    const reply = "error" in answer ? { jsonrpc: "2.0", id, error: answer["error"] } : { jsonrpc: "2.0", id, result: answer["result"] }
    return this.#transport?.send(reply as JSONRPCMessage)
  }

  /** Opens a listen: acknowledged with the part of the filter it honors (tool list changes); it stays open. */
  #listen(id: string | number, params: Fields): Promise<void> | undefined {
    const asked = (params["notifications"] ?? {}) as Fields
    const watched = Array.isArray(asked["resourceSubscriptions"]) && asked["resourceSubscriptions"].includes(NOTE)
    const honored = { ...(asked["toolsListChanged"] === true ? { toolsListChanged: true } : {}), ...(watched ? { resourceSubscriptions: [NOTE] } : {}) }
    if (asked["toolsListChanged"] === true) this.#listening.push(id)
    if (watched) this.#watching.push(id)
    return this.#notify("notifications/subscriptions/acknowledged", id, { notifications: honored })
  }

  #answer(method: string, params: Fields): Fields {
    const error = (code: number, message: string, data?: unknown) => ({ error: data === undefined ? { code, message } : { code, message, data } })
    const complete = (result: Fields, cached = false) => ({
      result: { ...result, resultType: "complete", ...(cached ? { ttlMs: 60_000, cacheScope: "public" } : {}), _meta: SERVER_INFO },
    })
    if (method === "initialize") return error(-32022, "Unsupported protocol version", { supported: ["2026-07-28"], requested: params["protocolVersion"] })
    const meta = (params["_meta"] ?? {}) as Fields
    if (meta[PV] !== "2026-07-28") return error(-32602, `missing or unsupported _meta ${PV}`)
    switch (method) {
      case "server/discover":
        return complete(
          {
            supportedVersions: ["2026-07-28"],
            capabilities: { tools: { listChanged: true }, resources: { subscribe: true }, logging: {} },
            instructions: "Modern only.",
          },
          true,
        )
      case "tools/list":
        return complete({ tools: this.#tools }, true)
      case "resources/list":
        return complete({ resources: [{ uri: NOTE, name: "note" }] }, true)
      case "resources/templates/list":
        return complete({ resourceTemplates: [] }, true)
      case "resources/read":
        return params["uri"] === NOTE ? complete({ contents: [{ uri: NOTE, text: this.#note }] }) : error(-32602, `Unknown resource: ${String(params["uri"])}`)
      case "tools/call":
        return this.#call(params, complete, error)
      default:
        return error(-32601, `Method not found: ${method}`)
    }
  }

  #call(params: Fields, complete: (r: Fields) => Fields, error: (code: number, message: string) => Fields): Fields {
    const args = (params["arguments"] ?? {}) as Fields
    if (params["name"] === "log") return complete({ content: [{ type: "text", text: "done" }] })
    if (params["name"] !== "greet" && this.#tools.some((t) => t["name"] === params["name"]))
      return complete({ content: [{ type: "text", text: String(args["text"] ?? "") }] })
    if (params["name"] !== "greet") return error(-32602, `Unknown tool: ${String(params["name"])}`)
    const answered = ((params["inputResponses"] ?? {}) as Fields)["name"] as { content?: { name?: string } } | undefined
    if (params["requestState"] === "greet-1" && answered?.content?.name !== undefined)
      return complete({ content: [{ type: "text", text: `hello ${answered.content.name}` }] })
    const ask = {
      method: "elicitation/create",
      params: { mode: "form", message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } },
    }
    return { result: { resultType: "input_required", inputRequests: { name: ask }, requestState: "greet-1" } }
  }
}

const NOTE = "memo://note"

const TOOLS = [
  { name: "echo", description: "Answers its text.", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } },
  { name: "greet", description: "Asks a name, then greets it.", inputSchema: { type: "object", properties: {} } },
  { name: "log", description: "Logs a warning, when asked for log messages, then answers.", inputSchema: { type: "object", properties: {} } },
]
