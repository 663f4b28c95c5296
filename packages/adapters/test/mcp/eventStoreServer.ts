import { createServer, type IncomingMessage, type Server } from "node:http"

/** What the server heard: each MCP request's HTTP method and the event it asked to resume after, if any. */
export interface HeardRequest {
  readonly method: string
  readonly lastEventId: string | null
}

/** A loopback Streamable HTTP server that answers each request on an event stream of its own. */
export interface EventStoreServer {
  readonly url: string
  readonly heard: ReadonlyArray<HeardRequest>
  close(): Promise<void>
}

/** Events written on a request's stream before its answer (each a `data:` payload). */
export type Extras = (request: { readonly id: unknown; readonly method: string }) => ReadonlyArray<string>

const bodyOf = async (req: IncomingMessage): Promise<string> => {
  let text = ""
  for await (const chunk of req) text += String(chunk)
  return text
}

/**
 * Behaves as server-everything does in `streamableHttp` mode with its demo event store: each request's
 * stream opens with a priming event (an id, empty data) and carries its answer; every event is stored,
 * the priming ones as `{}`; a resumption (`GET` with `Last-Event-ID`) replays every event stored after
 * that id, whichever stream it belonged to, and stays open. A plain `GET` opens the standalone stream.
 * `prompts/get` is answered with a JSON-RPC error, anything else with an empty result. `retryMs` is
 * the reconnection delay the priming events announce.
 */
export const startEventStoreServer = async (options: { readonly retryMs: number; readonly extras?: Extras }): Promise<EventStoreServer> => {
  const events: Array<{ readonly id: string; readonly data: string }> = []
  const heard: Array<HeardRequest> = []
  const store = (data: string): string => {
    const id = `event-${events.length + 1}`
    events.push({ id, data })
    return id
  }
  const server: Server = createServer((req, res) => {
    const lastEventId = req.headers["last-event-id"]
    if (req.headers["accept"]?.includes("text/event-stream") === true)
      heard.push({ method: req.method ?? "", lastEventId: typeof lastEventId === "string" ? lastEventId : null })
    if (req.method === "DELETE") return void res.writeHead(200).end()
    if (req.method === "GET") {
      // The connector's readiness probe asks for no event stream.
      if (req.headers.accept?.includes("text/event-stream") !== true) return void res.writeHead(404).end()
      res.writeHead(200, { "content-type": "text/event-stream", "mcp-session-id": "session-1" })
      res.flushHeaders()
      if (typeof lastEventId === "string") {
        const after = events.findIndex((e) => e.id === lastEventId) + 1
        for (const e of events.slice(after)) res.write(`id: ${e.id}\ndata: ${e.data}\n\n`)
      }
      return
    }
    void bodyOf(req).then((text) => {
      const message = JSON.parse(text) as { id?: unknown; method: string }
      if (message.id === undefined) return void res.writeHead(202, { "mcp-session-id": "session-1" }).end()
      res.writeHead(200, { "content-type": "text/event-stream", "mcp-session-id": "session-1" })
      res.write(`id: ${store("{}")}\nretry: ${options.retryMs}\ndata: \n\n`)
      for (const data of options.extras?.({ id: message.id, method: message.method }) ?? []) res.write(`id: ${store(data)}\ndata: ${data}\n\n`)
      const answer =
        message.method === "prompts/get"
          ? { jsonrpc: "2.0", id: message.id, error: { code: -32602, message: "Prompt nope not found" } }
          : { jsonrpc: "2.0", id: message.id, result: {} }
      const data = JSON.stringify(answer)
      res.end(`id: ${store(data)}\ndata: ${data}\n\n`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  return {
    url: `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}/mcp`,
    heard,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
