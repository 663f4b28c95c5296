import { ErrorCodes, ruleAllows, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse, type ServerAccess } from "@dtma/domain"
import { EVERYTHING, type RequestAccess } from "./requestAccess.ts"

// What an agent may not use is answered as if it did not exist: exactly what a server built on the
// MCP TypeScript SDK's `McpServer` (1.32, as server-everything and the DTMA's own fixtures are)
// answers for a tool, prompt, resource or template it does not have, and what the SDK answers for
// a method it has no handler for (its capability is not declared). Nothing of it reaches the server.

type Capabilities = Readonly<Record<string, unknown>>

/** An `McpError`'s message, as the SDK spells it. */
const sdkMessage = (code: number, message: string): string => `MCP error ${code}: ${message}`

const failure = (request: JsonRpcRequest, code: number, message: string): JsonRpcResponse => ({ jsonrpc: "2.0", id: request.id, error: { code, message } })

// McpServer looks names up in plain objects, so a name `Object.prototype` holds (`constructor`,
// `toString`, `__proto__`, …) is found there even when it registered none: such a tool or prompt
// is answered as disabled, and such a resource as one with nothing to complete. So it is here.
const inherited = (name: string): boolean => name in Object.prototype

/** What McpServer says of a tool, prompt, resource or template it does not have. */
const absent = (what: string, name: string): string => sdkMessage(ErrorCodes.InvalidParams, `${what} ${name} ${inherited(name) ? "disabled" : "not found"}`)

const notFound = (request: JsonRpcRequest, what: string, name: string): JsonRpcResponse => failure(request, ErrorCodes.InvalidParams, absent(what, name))

const NOTHING_TO_COMPLETE = { completion: { values: [], hasMore: false } }

const methodNotFound = (request: JsonRpcRequest): JsonRpcResponse => failure(request, ErrorCodes.MethodNotFound, "Method not found")

/** A request that names nothing the grants could allow: said plainly (no server would have run it). */
const invalidParams = (request: JsonRpcRequest, takes: string): JsonRpcResponse =>
  failure(request, ErrorCodes.InvalidParams, `Invalid params: ${request.method} takes ${takes}`)

const has = (capabilities: Capabilities, name: string): boolean => typeof capabilities[name] === "object" && capabilities[name] !== null

const canSubscribe = (capabilities: Capabilities): boolean => (capabilities["resources"] as { subscribe?: unknown } | undefined)?.subscribe === true

const stringAt = (value: unknown, key: string): string | null => {
  const field = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined
  return typeof field === "string" ? field : null
}

/** `resources/read` of a uri the server does not have: the SDK parses it first (a bad one is a TypeError, so an internal error). */
const noSuchResource = (request: JsonRpcRequest, uri: string): JsonRpcResponse => {
  try {
    return notFound(request, "Resource", new URL(uri).href)
  } catch {
    return failure(request, ErrorCodes.InternalError, "Invalid URL")
  }
}

const toolCall = (request: JsonRpcRequest, access: ServerAccess, capabilities: Capabilities): JsonRpcResponse | null => {
  const name = stringAt(request.params, "name")
  if (name === null) return invalidParams(request, "the name of a tool (a string)")
  if (ruleAllows(access.tools, name)) return null
  if (!has(capabilities, "tools")) return methodNotFound(request)
  // McpServer answers a tool it lacks with a tool error (a result), not a JSON-RPC error.
  return { jsonrpc: "2.0", id: request.id, result: { content: [{ type: "text", text: absent("Tool", name) }], isError: true } }
}

const promptGet = (request: JsonRpcRequest, access: ServerAccess, capabilities: Capabilities): JsonRpcResponse | null => {
  const name = stringAt(request.params, "name")
  if (name === null) return invalidParams(request, "the name of a prompt (a string)")
  if (ruleAllows(access.prompts, name)) return null
  return has(capabilities, "prompts") ? notFound(request, "Prompt", name) : methodNotFound(request)
}

const resourceRequest = (request: JsonRpcRequest, access: ServerAccess, capabilities: Capabilities): JsonRpcResponse | null => {
  const uri = stringAt(request.params, "uri")
  if (uri === null) return invalidParams(request, "the uri of a resource (a string)")
  if (access.resources) return null
  if (request.method === "resources/read") return has(capabilities, "resources") ? noSuchResource(request, uri) : methodNotFound(request)
  // A subscription to a uri the server does not have is taken all the same (nothing is checked).
  return canSubscribe(capabilities) ? { jsonrpc: "2.0", id: request.id, result: {} } : methodNotFound(request)
}

const completion = (request: JsonRpcRequest, access: ServerAccess, capabilities: Capabilities): JsonRpcResponse | null => {
  const ref = request.params?.["ref"]
  const type = stringAt(ref, "type")
  const prompt = type === "ref/prompt" ? stringAt(ref, "name") : null
  const template = type === "ref/resource" ? stringAt(ref, "uri") : null
  if (prompt === null && template === null) return invalidParams(request, 'a ref: {"type":"ref/prompt","name"} or {"type":"ref/resource","uri"}')
  if (prompt !== null ? ruleAllows(access.prompts, prompt) : access.resources) return null
  if (!has(capabilities, "completions")) return methodNotFound(request)
  if (prompt !== null) return notFound(request, "Prompt", prompt)
  const uri = template as string
  return inherited(uri) ? { jsonrpc: "2.0", id: request.id, result: NOTHING_TO_COMPLETE } : notFound(request, "Resource template", uri)
}

/** Requests that use the server as a whole, or something only their sender can name (a task it started). */
const ANY_GRANT = new Set([
  "initialize",
  "server/discover",
  "ping",
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "logging/setLevel",
])
const TASK_OF_ITS_OWN = new Set(["tasks/get", "tasks/result", "tasks/cancel"])

/**
 * The answer to `request` in place of the server's, when `access` does not allow what it names;
 * null when it may go to the server (lists go too, and are filtered on the way back). Methods MCP
 * does not define for clients, and `tasks/list` (the upstream is shared: it lists every session's
 * tasks), are answered as by a server without them.
 */
export const ungrantedAnswer = (request: JsonRpcRequest, access: ServerAccess, capabilities: Capabilities): JsonRpcResponse | null => {
  switch (request.method) {
    case "tools/call":
      return toolCall(request, access, capabilities)
    case "prompts/get":
      return promptGet(request, access, capabilities)
    case "resources/read":
    case "resources/subscribe":
    case "resources/unsubscribe":
      return resourceRequest(request, access, capabilities)
    case "completion/complete":
      return completion(request, access, capabilities)
    default:
      return ANY_GRANT.has(request.method) || TASK_OF_ITS_OWN.has(request.method) ? null : methodNotFound(request)
  }
}

/** Whether a server notification may reach a session: a resource's updates only where resources are granted. */
export const mayReceive = (notification: JsonRpcNotification, access: RequestAccess): boolean =>
  access === EVERYTHING || notification.method !== "notifications/resources/updated" || access.resources
