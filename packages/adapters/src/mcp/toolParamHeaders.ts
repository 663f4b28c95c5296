import { isRequest, isResponse, type JsonRpcId, type JsonRpcMessage } from "@dtma/domain"

// A tool's `x-mcp-header` annotations and the values its `Mcp-Param-{Name}` headers carry
// (basic/transports/streamable-http.mdx, "Custom Headers from Tool Parameters"; server/tools.mdx,
// "x-mcp-header"): what the DTMA checks of a 2026-07-28 client's call (`@dtma/http`'s
// `paramHeaders.ts`) and sends with its own calls to a 2026-07-28 server over Streamable HTTP
// (`makeToolParamHeaders`). The same walk as the v2 SDK's `scanXMcpHeaderDeclarations`, except that
// it keeps to the spec where the SDK bends for a conformance scenario (`number` is not admitted).

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

const ANNOTATION = "x-mcp-header"
/** RFC 9110 `token` (`1*tchar`): no spaces, no control characters, no delimiters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const PRIMITIVES: ReadonlySet<unknown> = new Set(["string", "integer", "boolean"])
/** Deeper schemas are refused rather than walked: a server's schema cannot exhaust the stack. */
const MAX_DEPTH = 64

/** Keywords whose subschemas are not statically reachable: an annotation under one makes the tool invalid. */
const UNREACHABLE = ["items", "prefixItems", "contains", "additionalItems", "unevaluatedItems", "additionalProperties", "unevaluatedProperties"]
  .concat(["propertyNames", "oneOf", "anyOf", "allOf", "not", "if", "then", "else"])
  .map((k) => [k, false] as const)
/** The same, where the value maps names to subschemas. */
const UNREACHABLE_MAPS = ["patternProperties", "dependentSchemas", "dependencies", "$defs", "definitions"].map((k) => [k, true] as const)

/** One annotated property: the chain of `properties` keys to it, and the `{Name}` of its header. */
export interface ParamHeader {
  readonly path: ReadonlyArray<string>
  readonly name: string
}

/** A tool's annotations, or why they make the tool invalid (and it is left out of a 2026-07-28 client's `tools/list`). */
export type ParamHeaders = { readonly valid: true; readonly headers: ReadonlyArray<ParamHeader> } | { readonly valid: false; readonly reason: string }

const where = (path: ReadonlyArray<string>): string => (path.length === 0 ? "the schema root" : path.join("."))

/** The annotations of a tool's `inputSchema`, checked against every constraint of server/tools.mdx, "x-mcp-header". */
export const paramHeadersOf = (inputSchema: unknown): ParamHeaders => {
  const headers: Array<ParamHeader> = []
  const seen = new Map<string, string>()
  const visit = (node: unknown, path: ReadonlyArray<string>, reachable: boolean): string | null => {
    if (!isObject(node)) return null
    if (path.length > MAX_DEPTH) return `the schema is nested deeper than ${MAX_DEPTH} levels`
    if (ANNOTATION in node) {
      const name = node[ANNOTATION]
      if (!reachable || path.length === 0) return `${where(path)}: x-mcp-header is allowed only on a property reached through properties alone`
      if (typeof name !== "string" || !TOKEN.test(name)) return `${where(path)}: x-mcp-header must be a non-empty HTTP token`
      if (!PRIMITIVES.has(node["type"])) return `${where(path)}: x-mcp-header is allowed only on a string, integer or boolean property`
      const before = seen.get(name.toLowerCase())
      if (before !== undefined) return `x-mcp-header ${name} is declared twice (also as ${before}), regardless of case`
      seen.set(name.toLowerCase(), name)
      headers.push({ path, name })
    }
    const properties = node["properties"]
    if (isObject(properties))
      for (const [key, child] of Object.entries(properties)) {
        const fault = visit(child, [...path, key], reachable)
        if (fault !== null) return fault
      }
    for (const [keyword, isMap] of [...UNREACHABLE, ...UNREACHABLE_MAPS]) {
      const sub = node[keyword]
      const branches = Array.isArray(sub) ? sub : isMap && isObject(sub) ? Object.values(sub) : [sub]
      for (const branch of branches) {
        const fault = visit(branch, [...path, `<${keyword}>`], false)
        if (fault !== null) return fault
      }
    }
    return null
  }
  const fault = visit(inputSchema, [], true)
  return fault === null ? { valid: true, headers } : { valid: false, reason: fault }
}

/** The value at a chain of `properties` keys in a tool call's arguments, if there is one. */
export const valueAt = (root: unknown, path: ReadonlyArray<string>): unknown =>
  path.reduce<unknown>((node, key) => (isObject(node) && Object.hasOwn(node, key) ? node[key] : undefined), root)

/**
 * A value as its header carries it (streamable-http.mdx, "Value Encoding", before the Base64 rule):
 * a string as it is, a number in decimal, a boolean in lower case. Undefined when no header can
 * carry it (null, absent, an object or array, an integer outside JavaScript's safe range): then a
 * client sends none.
 */
export const paramText = (value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (typeof value === "boolean") return value ? "true" : "false"
  if (typeof value !== "number" || !Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) return undefined
  return String(value)
}

const MAX_LISTINGS_AWAITED = 64

/** The name of the header that mirrors an annotated property. */
export const paramHeaderName = (header: ParamHeader): string => `Mcp-Param-${header.name}`

/**
 * A server's tools' annotations, learned from its `tools/list` answers as they pass the channel
 * (`sent`, `saw`), and the `Mcp-Param-{Name}` headers a call of one of them carries
 * (`headersOf`, values as `encode` writes them; streamable-http.mdx: "conforming clients MUST
 * mirror the designated parameter values into HTTP headers"). A tool whose annotations are invalid
 * gets none: the server should never have listed it, and a client would not call it.
 */
export const makeToolParamHeaders = (encode: (value: string) => string) => {
  const lists = new Set<JsonRpcId>()
  const byTool = new Map<string, ReadonlyArray<ParamHeader>>()
  return {
    sent: (message: JsonRpcMessage): void => {
      if (!isRequest(message) || message.method !== "tools/list") return
      lists.add(message.id)
      // A listing never answered (abandoned, timed out) is forgotten once enough newer ones are waited for.
      if (lists.size > MAX_LISTINGS_AWAITED) lists.delete(lists.values().next().value!)
    },
    saw: (message: JsonRpcMessage): void => {
      if (!isResponse(message) || message.id === null || !lists.delete(message.id) || !("result" in message)) return
      const tools = message.result["tools"]
      if (!Array.isArray(tools)) return
      for (const tool of tools) {
        if (!isObject(tool) || typeof tool["name"] !== "string") continue
        const declared = paramHeadersOf(tool["inputSchema"])
        if (declared.valid && declared.headers.length > 0) byTool.set(tool["name"], declared.headers)
        else byTool.delete(tool["name"])
      }
    },
    headersOf: (tool: string, args: unknown): Readonly<Record<string, string>> => {
      const headers: Record<string, string> = {}
      for (const header of byTool.get(tool) ?? []) {
        const text = paramText(valueAt(args, header.path))
        if (text !== undefined) headers[paramHeaderName(header)] = encode(text)
      }
      return headers
    },
  }
}

export type ToolParamHeaders = ReturnType<typeof makeToolParamHeaders>
