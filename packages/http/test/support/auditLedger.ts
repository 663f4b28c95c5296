import { once } from "node:events"
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { isPublicRequest, ROUTES } from "../../src/routes/routeTable.ts"
import { isMcpEndpoint } from "../../src/server/mcpEndpoints.ts"

/** One HTTP request a test made to the DTMA, as the audit must show it. */
export interface Exchange {
  /** `route server method name`: what one audit record of it holds. */
  readonly key: string
  readonly status: number
}

const SERVER_ENDPOINT = /^\/mcp-servers\/([^/]+)\/mcp\/?$/
const NAMED: Readonly<Record<string, string>> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "resources/subscribe": "uri",
  "resources/unsubscribe": "uri",
}
const patternOf = (path: string) => new RegExp(`^${path.replace(/:[A-Za-z0-9_]+/g, "([^/]+)")}$`)

/**
 * The audit key of a request, from the request and its status, as the agent-access spec words it:
 * on an MCP endpoint, a lone JSON-RPC message is one record of its method (the test's clients send
 * no batches), unless its token was refused (401: the body of an unauthenticated request is never
 * read); anything else (a GET stream, a DELETE) one of the HTTP method; a management request one of
 * its route pattern and HTTP method; a public route none.
 */
export const auditKeyOf = (method: string, path: string, body: string | undefined, status: number): string | null => {
  if (isMcpEndpoint(path)) {
    const server = SERVER_ENDPOINT.exec(path)?.[1]
    const message = (() => {
      try {
        return status === 401 ? null : (JSON.parse(body ?? "") as { method?: unknown; params?: Record<string, unknown> })
      } catch {
        return null
      }
    })()
    const rpc = typeof message?.method === "string" ? message.method : null
    const nameKey = rpc === null ? undefined : NAMED[rpc]
    const name = nameKey === undefined ? null : message?.params?.[nameKey]
    const route = server === undefined ? "/mcp" : "/mcp-servers/:name/mcp"
    return `${route} ${server === undefined ? "-" : decodeURIComponent(server)} ${rpc ?? method} ${typeof name === "string" ? name : "-"}`
  }
  if (isPublicRequest(method, path)) return null
  const route = ROUTES.find((r) => r.method === method && patternOf(r.path).test(path))
  if (route === undefined) return `unmatched - ${method} -`
  const name = route.path.includes(":name") ? decodeURIComponent(patternOf(route.path).exec(path)?.[1] ?? "") : "-"
  return `${route.path} ${name} ${method} -`
}

/** The key of an audit record, for comparison with `auditKeyOf`. */
export const keyOfRecord = (r: { route: string; server: string | null; method: string | null; name: string | null }): string =>
  `${r.route} ${r.server ?? "-"} ${r.method ?? "-"} ${r.name ?? "-"}`

/** How many times each key occurs, keys sorted. */
export const tally = (keys: ReadonlyArray<string>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const key of [...keys].sort()) counts[key] = (counts[key] ?? 0) + 1
  return counts
}

interface CallInit {
  readonly method: string
  readonly token: string | null
  readonly body?: unknown
  readonly headers?: Record<string, string>
}

interface CallAnswer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  // Answers are read freely in assertions.
  // oxlint-disable-next-line typescript/no-explicit-any
  readonly body: any
}

/**
 * Every request a test makes to one DTMA, through `fetch` (SDK clients and the test's own calls) or
 * through `passThrough` (a CLI that cannot be given a fetch): what the audit must hold. It also
 * tells when a session's notification stream (GET) opened and ended, to time a cut.
 */
export class AuditLedger {
  readonly exchanges: Array<Exchange> = []
  readonly #streams = new Map<string, { opened: PromiseWithResolvers<void>; ended: PromiseWithResolvers<number> }>()

  #stream(sessionId: string) {
    let s = this.#streams.get(sessionId)
    if (s === undefined) {
      s = { opened: Promise.withResolvers<void>(), ended: Promise.withResolvers<number>() }
      this.#streams.set(sessionId, s)
    }
    return s
  }

  /** Resolves once a notification stream (GET) of session `sessionId` is open. */
  streamOpened(sessionId: string): Promise<void> {
    return this.#stream(sessionId).opened.promise
  }

  /**
   * Resolves to the `performance.now()` at which an event stream of session `sessionId` ended
   * (closed or cut): its notification stream, or with `rpcMethod` the answer stream of its POST of
   * that method (one a call asking for progress gets).
   */
  streamEnded(sessionId: string, rpcMethod?: string): Promise<number> {
    return this.#stream(rpcMethod === undefined ? sessionId : `${sessionId} ${rpcMethod}`).ended.promise
  }

  #note(method: string, path: string, body: string | undefined, status: number): void {
    const key = auditKeyOf(method, path, body, status)
    if (key !== null) this.exchanges.push({ key, status })
  }

  readonly fetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input)
    const method = init.method ?? "GET"
    const body = typeof init.body === "string" ? init.body : undefined
    const response = await fetch(input, init)
    this.#note(method, url.pathname, body, response.status)
    const sessionId = new Headers(init.headers).get("mcp-session-id")
    const events = response.headers.get("content-type")?.startsWith("text/event-stream") === true
    if (sessionId === null || !response.ok || !events || response.body === null) return response
    const rpc = method === "POST" ? (JSON.parse(body ?? "{}") as { method?: unknown }).method : undefined
    const stream = this.#stream(typeof rpc === "string" ? `${sessionId} ${rpc}` : sessionId)
    stream.opened.resolve()
    const reader = response.body.getReader()
    const end = () => stream.ended.resolve(performance.now())
    const watched = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read()
          if (done) {
            end()
            controller.close()
          } else controller.enqueue(value)
        } catch (error) {
          end()
          controller.error(error)
        }
      },
      cancel(reason) {
        end()
        return reader.cancel(reason)
      },
    })
    return new Response(watched, { status: response.status, statusText: response.statusText, headers: response.headers })
  }

  /** JSON in and out, through `fetch`, under `token`. */
  async call(url: string, init: CallInit): Promise<CallAnswer> {
    const headers: Record<string, string> = { ...init.headers, ...(init.token === null ? {} : { authorization: `Bearer ${init.token}` }) }
    if (init.body !== undefined) headers["content-type"] = "application/json"
    const res = await this.fetch(url, { method: init.method, headers, ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }) })
    const text = await res.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      // not JSON
    }
    return { status: res.status, headers: res.headers, text, body }
  }

  /**
   * A loopback HTTP server forwarding every request to `target`'s origin unchanged (headers, body,
   * streamed answers), noting each as `fetch` does: for a client that only takes a URL.
   */
  async passThrough(target: string): Promise<{ readonly url: string; close(): Promise<void> }> {
    const to = new URL(target)
    const server: Server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const body = Buffer.concat(chunks)
        const headers: IncomingHttpHeaders = { ...req.headers, host: to.host }
        const upstream = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers }, (answer) => {
          this.#note(req.method ?? "GET", new URL(req.url ?? "/", to).pathname, body.length === 0 ? undefined : body.toString(), answer.statusCode ?? 0)
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        })
        upstream.on("error", () => res.destroy())
        res.on("close", () => upstream.destroy())
        upstream.end(body)
      })
    })
    server.listen(0, "127.0.0.1")
    await once(server, "listening")
    const { port } = server.address() as AddressInfo
    return {
      url: `http://127.0.0.1:${port}${to.pathname}`,
      close: async () => {
        server.closeAllConnections()
        server.close()
        await once(server, "close")
      },
    }
  }
}
