import * as Result from "effect/Result"
import { ErrorCodes, pageOf, type AggregateCatalog, type JsonRpcRequest, type JsonRpcResponse } from "@dtma/domain"
import { DTMA_VERSION } from "../composition/version.ts"
import { ungrantedAnswer } from "./grantedMessages.ts"
import { negotiatedVersion } from "./protocolVersion.ts"
import { PROXY_ERROR_TABLE, type ProxyFailure } from "./proxyErrorTable.ts"
import { NOTHING } from "./requestAccess.ts"
import { serialised } from "./serialisedAnswers.ts"

// What the agent endpoint `/mcp` answers itself: its handshake, its lists (from memory), and the
// errors of requests it cannot route.

type Result = Readonly<Record<string, unknown>>

/**
 * What `/mcp` declares: every list changes (servers come and go), resources can be subscribed to,
 * completions and log messages are passed on from the servers that have them.
 */
export const AGENT_CAPABILITIES: Result = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  completions: {},
  logging: {},
}

export const AGENT_SERVER_INFO = { name: "dtma", title: "DTMA agent endpoint", version: DTMA_VERSION } as const

/** The answer to `initialize` on `/mcp`: the DTMA's own, with each server's instructions under its name. */
export const agentInitializeResult = (asked: unknown, supported: ReadonlyArray<string>, instructions: string | null): Result => ({
  protocolVersion: negotiatedVersion(asked, supported[0] ?? "2025-11-25", supported),
  capabilities: AGENT_CAPABILITIES,
  serverInfo: AGENT_SERVER_INFO,
  ...(instructions === null ? {} : { instructions }),
})

/** A field of the catalog (and of a list's answer) holding the items of a list. */
type ListField = "tools" | "prompts" | "resources" | "resourceTemplates"

/** The list methods, and the field of the catalog (and of the answer) holding their items. */
export const LIST_FIELDS: ReadonlyMap<string, ListField> = new Map([
  ["tools/list", "tools"],
  ["prompts/list", "prompts"],
  ["resources/list", "resources"],
  ["resources/templates/list", "resourceTemplates"],
])

const failure = (request: JsonRpcRequest, code: number, message: string, data?: Result): JsonRpcResponse => ({
  jsonrpc: "2.0",
  id: request.id,
  error: { code, message, ...(data === undefined ? {} : { data }) },
})

/** A list page's result and its JSON text, encoded. */
interface Page {
  readonly result: Result
  readonly json: Uint8Array
}

/**
 * The pages of each catalog answered so far, serialised, by method, cursor and page size. A catalog
 * is replaced, not changed, when the servers change, so its pages stay true while it lives. At most
 * `PAGES_PER_CATALOG` are kept: a client may pass any index as a cursor, not only those handed out.
 */
const pages = new WeakMap<AggregateCatalog, Map<string, Page>>()
const PAGES_PER_CATALOG = 64

const pageFor = (catalog: AggregateCatalog, field: ListField, cursor: string | undefined, size: number) => {
  const key = `${field} ${size} ${cursor ?? ""}`
  const known = pages.get(catalog) ?? new Map<string, Page>()
  const found = known.get(key)
  if (found !== undefined) return Result.succeed(found)
  return Result.map(pageOf(catalog[field], cursor, size), ({ items, nextCursor }) => {
    const result = nextCursor === undefined ? { [field]: items } : { [field]: items, nextCursor }
    const page = { result, json: Buffer.from(JSON.stringify(result)) }
    if (known.size < PAGES_PER_CATALOG) pages.set(catalog, known.set(key, page))
    return page
  })
}

/**
 * One page of a list from the catalog; a cursor this endpoint did not give is Invalid Params. The
 * page is serialised and encoded once per catalog: each answer carries those bytes, only the id is new.
 */
export const listAnswer = (request: JsonRpcRequest, catalog: AggregateCatalog, pageSize: number): JsonRpcResponse => {
  const field = LIST_FIELDS.get(request.method)!
  const cursor = request.params?.["cursor"]
  if (cursor !== undefined && typeof cursor !== "string") return failure(request, ErrorCodes.InvalidParams, "Invalid params: cursor must be a string")
  const page = pageFor(catalog, field, cursor, pageSize)
  if (Result.isFailure(page)) return failure(request, ErrorCodes.InvalidParams, `Invalid params: ${page.failure.message}`)
  const { result, json } = page.success
  return serialised({ jsonrpc: "2.0", id: request.id, result }, [`{"jsonrpc":"2.0","id":${JSON.stringify(request.id)},"result":`, json, "}"])
}

/**
 * The answer to a request naming nothing the caller's catalog has: what a server built on the MCP
 * SDK answers for what it does not have (a tool error, Invalid Params, an empty subscription), or
 * Invalid Params for a request that names nothing at all.
 */
export const absentAnswer = (request: JsonRpcRequest): JsonRpcResponse =>
  ungrantedAnswer(request, NOTHING, AGENT_CAPABILITIES) ?? failure(request, ErrorCodes.MethodNotFound, "Method not found")

export const methodNotFound = (request: JsonRpcRequest): JsonRpcResponse => failure(request, ErrorCodes.MethodNotFound, "Method not found")

export const invalidParams = (request: JsonRpcRequest, problem: string): JsonRpcResponse =>
  failure(request, ErrorCodes.InvalidParams, `Invalid params: ${problem}`)

/** How a server that cannot take a request stands, in one word. */
const stateOf = (cause: ProxyFailure): string => {
  switch (cause._tag) {
    case "McpServerUnavailable":
      return cause.health
    case "InstanceNotFound":
      return "removed"
    case "McpServerBusy":
      return "busy"
    case "SessionLimitReached":
      return "saturated"
    case "IsolatedInstanceLimit":
      return "at_instance_limit"
  }
}

/**
 * The answer to a request for `server` that the server cannot take now (down, unhealthy, restarting,
 * removed, saturated): a JSON-RPC error naming the server and its state (also in `data`), for this
 * request alone; the other servers of the endpoint are not affected.
 */
export const unavailableAnswer = (request: JsonRpcRequest, server: string, cause: ProxyFailure): JsonRpcResponse => {
  const state = stateOf(cause)
  const message = cause._tag === "InstanceNotFound" ? `MCP server '${server}' was removed: what it offered is gone from this endpoint.` : cause.message
  return failure(request, PROXY_ERROR_TABLE[cause._tag].code, message, { server, state })
}
