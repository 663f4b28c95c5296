import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js"

// What a Streamable HTTP POST carrying a 2026-07-28 message needs besides what the SDK 1.x client
// transport sends (basic/transports/streamable-http.mdx, "Request Metadata"): `MCP-Protocol-Version`
// equal to the envelope's, `Mcp-Method`, and `Mcp-Name` for tools/call, prompts/get and
// resources/read; no session. And what comes back: a modern server answers a JSON-RPC error with a
// 4xx status (400 for -32602/-32020…, 404 for -32601), which the SDK transport would throw away as a
// failed send; it is handed on as the answer it is. A POST without the envelope passes untouched.
// The `Mcp-Param-{Name}` headers of a call come from the tool's listing (`makeToolParamHeaders`).

const PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
const NAME_SOURCE: Readonly<Record<string, string>> = { "tools/call": "name", "prompts/get": "name", "resources/read": "uri" }

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

interface ModernMessage {
  readonly version: string
  readonly method: string
  readonly name: string | undefined
  /** A `tools/call`'s arguments, for its `Mcp-Param-{Name}` headers. */
  readonly arguments: unknown
}

/** The one message a POST body carries when it has the 2026-07-28 envelope; null for anything else. */
export const modernMessageOf = (body: unknown): ModernMessage | null => {
  if (typeof body !== "string") return null
  let message: unknown
  try {
    message = JSON.parse(body)
  } catch {
    return null
  }
  if (!isObject(message) || typeof message["method"] !== "string" || !isObject(message["params"])) return null
  const meta = message["params"]["_meta"]
  const version = isObject(meta) ? meta[PROTOCOL_VERSION_KEY] : undefined
  if (typeof version !== "string") return null
  const source = NAME_SOURCE[message["method"]]
  const name = source === undefined ? undefined : message["params"][source]
  return { version, method: message["method"], name: typeof name === "string" ? name : undefined, arguments: message["params"]["arguments"] }
}

/**
 * A header value as the spec carries it: as is when plain printable ASCII, else `=?base64?…?=`
 * ("Value Encoding"). An empty value is encoded too: an empty header is easily taken for none.
 */
export const encodeHeaderValue = (value: string): string => {
  const plain = /^[\x20-\x7E]+$/.test(value) && value.trim() === value && !(value.startsWith("=?base64?") && value.endsWith("?="))
  return plain ? value : `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`
}

const isJson = (response: Response): boolean => response.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase() === "application/json"

/** A 4xx whose body is a JSON-RPC error answer, as a 200 with that body; anything else as it came. */
const inBand = async (response: Response): Promise<Response> => {
  if (response.status < 400 || response.status >= 500 || !isJson(response)) return response
  const text = await response.text()
  let answer: unknown
  try {
    answer = JSON.parse(text)
  } catch {
    answer = null
  }
  const isError = isObject(answer) && answer["jsonrpc"] === "2.0" && "id" in answer && isObject(answer["error"])
  return new Response(text, { status: isError ? 200 : response.status, statusText: isError ? "OK" : response.statusText, headers: response.headers })
}

/**
 * The transport's `fetch`: a POST of a 2026-07-28 message gets its headers — a `tools/call` also the
 * `Mcp-Param-{Name}` headers `paramHeaders` gives for the tool and its arguments — and its refusal
 * comes back as an answer.
 */
export const modernHeaders =
  (base: FetchLike, paramHeaders: (tool: string, args: unknown) => Readonly<Record<string, string>> = () => ({})): FetchLike =>
  async (url, init) => {
    const modern = init?.method === "POST" ? modernMessageOf(init.body) : null
    if (modern === null) return base(url, init)
    const headers = new Headers(init?.headers)
    headers.set("mcp-protocol-version", modern.version)
    headers.set("mcp-method", modern.method)
    if (modern.name !== undefined) headers.set("mcp-name", encodeHeaderValue(modern.name))
    if (modern.method === "tools/call" && modern.name !== undefined)
      for (const [header, value] of Object.entries(paramHeaders(modern.name, modern.arguments))) headers.set(header, value)
    headers.delete("mcp-session-id")
    return inBand(await base(url, { ...init, headers }))
  }
