import { once } from "node:events"
import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"

/**
 * How `/mcp` names a server's tools and prompts for a client that knows them by the server's own names:
 * `<server>__<name>`, as the DTMA lists them (plain form: the fixture's names are plain). A client of
 * `/mcp` calls what `tools/list` gave it; the conformance CLI calls the names its scenarios hard-code,
 * so this maps those, and the lists back, and nothing else.
 */
export interface ListedNames {
  readonly server: string
}

/**
 * A loopback pass-through that adds `Authorization: Bearer <token>` to every request and streams
 * both ways (the conformance CLI has no option to send headers). With `names`, it also renames, in the
 * client's requests, the tool of `tools/call`, the prompt of `prompts/get` and of a prompt completion to
 * `<server>__<name>`, and in the answers (JSON or event stream) the tools and prompts a list gives back
 * to their own names: what a client that read `/mcp`'s list would do, for a client that did not.
 */
export const bearerPassThrough = async (
  target: string,
  token: string,
  names: ListedNames | null = null,
): Promise<{ readonly url: string; close(): Promise<void> }> => {
  const to = new URL(target)
  const server: Server = createServer((req, res) => {
    const forward = (headers: IncomingHttpHeaders, body: Buffer | null) => {
      const upstream = request(
        { host: to.hostname, port: to.port, path: to.pathname + to.search, method: req.method, headers: { ...headers, authorization: `Bearer ${token}` } },
        (answer) => {
          if (names === null) {
            res.writeHead(answer.statusCode ?? 502, answer.headers)
            answer.pipe(res)
            return
          }
          const { "content-length": _, ...rest } = answer.headers
          res.writeHead(answer.statusCode ?? 502, rest)
          answer.setEncoding("utf8")
          let pending = ""
          answer.on("data", (chunk: string) => {
            pending += chunk
            const end = pending.lastIndexOf("\n")
            if (end < 0) return
            res.write(renameLines(pending.slice(0, end + 1), names))
            pending = pending.slice(end + 1)
          })
          answer.on("end", () => res.end(renameLines(pending, names)))
        },
      )
      upstream.on("error", () => res.destroy())
      res.on("close", () => upstream.destroy())
      if (body === null) req.pipe(upstream)
      else upstream.end(body)
    }
    if (names === null || req.method !== "POST") return forward(req.headers, null)
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const body = Buffer.from(renameRequests(Buffer.concat(chunks).toString("utf8"), names))
      forward({ ...req.headers, "content-length": String(body.length) }, body)
    })
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, "close")
    },
  }
}

type Json = Record<string, unknown>
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

const renameRequest = (message: unknown, { server }: ListedNames): unknown => {
  if (!isObject(message) || !isObject(message["params"])) return message
  const params = message["params"]
  const listed = (name: unknown) => (typeof name === "string" ? `${server}__${name}` : name)
  if (message["method"] === "tools/call" || message["method"] === "prompts/get") return { ...message, params: { ...params, name: listed(params["name"]) } }
  const ref = params["ref"]
  if (message["method"] === "completion/complete" && isObject(ref) && ref["type"] === "ref/prompt")
    return { ...message, params: { ...params, ref: { ...ref, name: listed(ref["name"]) } } }
  return message
}

const renameRequests = (text: string, names: ListedNames): string => {
  try {
    const parsed: unknown = JSON.parse(text)
    return JSON.stringify(Array.isArray(parsed) ? parsed.map((m) => renameRequest(m, names)) : renameRequest(parsed, names))
  } catch {
    return text
  }
}

const ownName = (item: unknown, { server }: ListedNames): unknown =>
  isObject(item) && typeof item["name"] === "string" && item["name"].startsWith(`${server}__`) ? { ...item, name: item["name"].slice(server.length + 2) } : item

const renameAnswer = (message: unknown, names: ListedNames): unknown => {
  if (!isObject(message) || !isObject(message["result"])) return message
  const result = { ...message["result"] }
  for (const field of ["tools", "prompts"]) {
    const items = result[field]
    if (Array.isArray(items)) result[field] = items.map((item) => ownName(item, names))
  }
  return { ...message, result }
}

/** Complete lines of a JSON body or an event stream, with each JSON-RPC answer in them renamed. */
const renameLines = (text: string, names: ListedNames): string =>
  text
    .split("\n")
    .map((line) => {
      const data = line.startsWith("data:") ? line.slice(5).trimStart() : line
      if (!data.startsWith("{") && !data.startsWith("[")) return line
      try {
        const parsed: unknown = JSON.parse(data)
        const renamed = JSON.stringify(Array.isArray(parsed) ? parsed.map((m) => renameAnswer(m, names)) : renameAnswer(parsed, names))
        return line.startsWith("data:") ? `data: ${renamed}` : renamed
      } catch {
        return line
      }
    })
    .join("\n")
