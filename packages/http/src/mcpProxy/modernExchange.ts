import * as Effect from "effect/Effect"
import { ErrorCodes, type JsonRpcId, type JsonRpcRequest, type JsonRpcResponse, type ServerRequestAnswer } from "@dtma/domain"
import { SERVER_INFO_KEY, type Envelope } from "./eraOf.ts"
import type { HeldCalls } from "./HeldCalls.ts"
import type { ListChanges } from "./ModernListen.ts"
import type { ProxyReply } from "./proxyErrorTable.ts"
import type { McpProxySettings } from "./settings.ts"
import { isObject } from "./isObject.ts"
import { modernListable } from "./paramHeaders.ts"

// A 2026-07-28 request served in front of a 2025-era server: what changes on the way in (the
// envelope stays at the edge) and on the way back (results stamped, codes the revision retired
// translated). The rest of the path is the 2025-era one: grants, audit, rate limits, traces.

/** What a modern client may ask the DTMA; anything else is answered 404 with -32601 (streamable-http.mdx, "Protocol Version Header"). */
export const MODERN_METHODS: ReadonlySet<string> = new Set([
  "server/discover",
  "subscriptions/listen",
  "tools/list",
  "tools/call",
  "prompts/list",
  "prompts/get",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "completion/complete",
])

/** The requests a server may answer `input_required` (mrtr.mdx, "Supported Requests"): the MRTR bridge carries a server's requests only on these. */
export const MRTR_METHODS: ReadonlySet<string> = new Set(["tools/call", "prompts/get", "resources/read"])

/** Results that carry caching hints (server/utilities/caching.mdx, "Cacheable Results"). */
const CACHEABLE: ReadonlySet<string> = new Set([
  "server/discover",
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "resources/read",
])

/** The per-request fields of the envelope, which a 2025-era server does not know: kept at the edge. */
const ENVELOPE_PREFIX = "io.modelcontextprotocol/"

/** What a modern request's session serves it with. */
export interface ModernCall {
  readonly envelope: Envelope
  /** The `serverInfo` its results carry: the upstream's own on a server's endpoint, the DTMA's on `/mcp`. */
  readonly serverInfo: () => unknown
  /** Which lists announce their changes there, for a listen's acknowledgement. */
  readonly listChanges: () => ListChanges
  /** Where a call waits for its client's input (MRTR) between the client's requests. */
  readonly held: HeldCalls
  /** The request's envelope as it came (`envelopeOf`), for a server that speaks 2026-07-28. */
  readonly wire?: Readonly<Record<string, unknown>>
}

/** The envelope's keys of a request's `_meta`, as they came. */
export const envelopeOf = (request: JsonRpcRequest): Readonly<Record<string, unknown>> => {
  const meta = request.params?.["_meta"]
  return isObject(meta) ? Object.fromEntries(Object.entries(meta).filter(([key]) => key.startsWith(ENVELOPE_PREFIX))) : {}
}

/** Whether `request` retries an MRTR request: it echoes a `requestState` (mrtr.mdx, "Client Requirements"). */
export const isRetry = (request: JsonRpcRequest): boolean => MRTR_METHODS.has(request.method) && request.params?.["requestState"] !== undefined

/** The request as a 2025-era server takes it: the envelope's keys out of `_meta` (a progress token, a trace context stay). */
export const withoutEnvelope = (request: JsonRpcRequest): JsonRpcRequest => {
  const meta = request.params?.["_meta"]
  if (!isObject(meta)) return request
  const kept = Object.fromEntries(Object.entries(meta).filter(([key]) => !key.startsWith(ENVELOPE_PREFIX)))
  const { _meta: _, ...params } = request.params!
  return { ...request, params: Object.keys(kept).length === 0 ? params : { ...params, _meta: kept } }
}

/**
 * An error as a modern client reads it. `-32002` is retired by 2026-07-28 (basic/index.mdx, "Error
 * Codes"): a 2025-era server's resource not found becomes `-32602`; the DTMA's own "server busy"
 * (it answers `-32002` to 2025-era clients) becomes `-32603`, its `data` saying `busy`.
 */
export const modernError = (method: string, error: { readonly code: number; readonly message: string; readonly data?: unknown }) => {
  if (error.code !== ErrorCodes.ServerBusy) return error
  const data = isObject(error.data) ? error.data : {}
  const busy = data["state"] === "busy" || data["state"] === "saturated" || method !== "resources/read"
  return busy ? { ...error, code: ErrorCodes.InternalError, data: { state: "busy", ...data } } : { ...error, code: ErrorCodes.InvalidParams }
}

/**
 * A response as a modern client reads it: a result marked complete (a 2026-07-28 server's own
 * `resultType`, `input_required` say, is kept), naming the server, and — for a complete result of
 * the cacheable methods — stale at once and private: every answer of a DTMA endpoint is worked
 * out within its caller's grants (an agent's lists are filtered; the operator's are not, on the
 * same URL), so no cache may hand one caller's answer to another. A `tools/list` leaves out the
 * tools whose `x-mcp-header` annotations are invalid, as a 2026-07-28 client MUST (server/tools.mdx,
 * "x-mcp-header"); a 2025-era client is listed them as the server lists them.
 */
export const modernResponse = (method: string, response: JsonRpcResponse, call: Pick<ModernCall, "serverInfo">): JsonRpcResponse => {
  if ("error" in response) return { ...response, error: modernError(method, response.error) }
  const result = response.result
  const meta = { ...(isObject(result["_meta"]) ? result["_meta"] : {}), [SERVER_INFO_KEY]: call.serverInfo() }
  const resultType = typeof result["resultType"] === "string" ? result["resultType"] : "complete"
  const cache = CACHEABLE.has(method) && resultType === "complete" ? { ttlMs: 0, cacheScope: "private" } : {}
  const tools = method === "tools/list" && Array.isArray(result["tools"]) ? { tools: (result["tools"] as ReadonlyArray<unknown>).filter(modernListable) } : {}
  return { ...response, result: { ...result, ...tools, resultType, ...cache, _meta: meta } }
}

/** An `input_required` answer of the MRTR bridge's, naming the server as every result does; no caching hints (caching.mdx). */
export const inputRequiredResponse = (id: JsonRpcId, result: Readonly<Record<string, unknown>>, call: Pick<ModernCall, "serverInfo">): JsonRpcResponse => ({
  jsonrpc: "2.0",
  id,
  result: { ...result, _meta: { [SERVER_INFO_KEY]: call.serverInfo() } },
})

/** A refusal of the whole request (busy, unavailable) in the codes a modern client reads. */
export const modernReply = (method: string, reply: ProxyReply): ProxyReply => {
  const body = reply.body as { error?: { code: number; message: string } } | undefined
  return body?.error === undefined ? reply : { ...reply, body: { ...body, error: modernError(method, body.error) } }
}

/** What the DTMA answers a server that asks a modern client something about a request MRTR does not cover (a list, a completion). */
export const askModernClient = (method: string): Effect.Effect<ServerRequestAnswer> =>
  Effect.succeed({
    error: {
      code: ErrorCodes.MethodNotFound,
      message:
        "the client speaks MCP 2026-07-28, where a server's requests reach it only inside the result of tools/call, prompts/get or resources/read " +
        `(input_required), not of ${method}`,
    },
  })

/** The capabilities a 2025-era server declared, as a modern client reads them: tasks are not part of 2026-07-28. */
const modernCapabilities = (capabilities: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> =>
  Object.fromEntries(Object.entries(capabilities).filter(([key]) => key !== "tasks"))

/** The answer to `server/discover` (server/discover.mdx): the revisions the DTMA serves, what the server declared, its instructions. */
export const discoverResult = (
  hello: { readonly capabilities: Readonly<Record<string, unknown>>; readonly instructions: string | null },
  settings: Pick<McpProxySettings, "modernProtocolVersions" | "supportedProtocolVersions">,
): Readonly<Record<string, unknown>> => ({
  supportedVersions: [...settings.modernProtocolVersions, ...settings.supportedProtocolVersions],
  capabilities: modernCapabilities(hello.capabilities),
  ...(hello.instructions === null ? {} : { instructions: hello.instructions }),
})
