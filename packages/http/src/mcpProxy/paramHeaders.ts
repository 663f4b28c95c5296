import type { IncomingHttpHeaders } from "node:http"
import type { JsonRpcRequest } from "@dtma/domain"
import { decodeHeaderValue, headerMismatch } from "./eraOf.ts"
import { isObject } from "./isObject.ts"
import type { ProxyReply } from "./proxyErrorTable.ts"

// A tool's `x-mcp-header` annotations and the `Mcp-Param-{Name}` headers a 2026-07-28 `tools/call`
// carries for them (basic/transports/streamable-http.mdx, "Custom Headers from Tool Parameters",
// "Value Encoding", "Server Behavior for Custom Headers"; server/tools.mdx, "x-mcp-header"). The
// same walk as the v2 SDK's `scanXMcpHeaderDeclarations` and `validateMcpParamHeaders`, except that
// it keeps to the spec where the SDK bends for a conformance scenario (`number` is not admitted)
// and refuses a header sent for a value the body does not carry.

const ANNOTATION = "x-mcp-header"
const PREFIX = "Mcp-Param-"
/** RFC 9110 `token` (`1*tchar`): no spaces, no control characters, no delimiters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const PRIMITIVES: ReadonlySet<unknown> = new Set(["string", "integer", "boolean"])
/** What an HTTP field value may hold (RFC 9110, "Field Values"): visible ASCII, space, tab. */
const FIELD_VALUE = /^[\t\x20-\x7E]*$/
const DECIMAL = /^-?\d+(?:\.\d+)?$/
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

/** Whether a 2026-07-28 client may be listed a tool: its annotations, if any, are valid (clients MUST leave out the others). */
export const modernListable = (tool: unknown): boolean => !isObject(tool) || paramHeadersOf(tool["inputSchema"]).valid

const valueAt = (root: unknown, path: ReadonlyArray<string>): unknown =>
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

const headerOf = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value.join(", ") : value
}

/**
 * What is wrong with a `tools/call`'s `Mcp-Param-{Name}` headers, given the called tool's
 * annotations and the call's `arguments`, or null: a value with no header, a header with no value,
 * a header with characters a field value may not hold or a broken `=?base64?…?=`, a header that
 * decodes to another value (an integer compared as a number: `42.0` is `42`). Headers no annotation
 * names are not looked at. The message names the header, never a value: values are tool arguments.
 */
export const paramHeadersProblem = (declared: ReadonlyArray<ParamHeader>, args: unknown, headers: IncomingHttpHeaders): string | null => {
  for (const { path, name } of declared) {
    const header = `${PREFIX}${name}`
    const raw = headerOf(headers, header.toLowerCase())
    const value = valueAt(args, path)
    const text = paramText(value)
    if (raw === undefined) {
      if (text === undefined) continue
      return `the ${header} header is required: the body carries arguments.${path.join(".")}`
    }
    if (!FIELD_VALUE.test(raw)) return `the ${header} header holds characters a header value may not (encode it as =?base64?…?=)`
    const decoded = decodeHeaderValue(raw)
    if (decoded === null) return `the ${header} header is not valid =?base64?…?= encoding`
    if (text === undefined) return `the ${header} header was sent, but the body carries no value at arguments.${path.join(".")} that it could mirror`
    const same = typeof value === "number" && DECIMAL.test(decoded) ? Number(decoded) === value : decoded === text
    if (!same) return `the ${header} header does not match the body's arguments.${path.join(".")}`
  }
  return null
}

/**
 * The refusal of a 2026-07-28 `tools/call` of `tool` (its definition as the endpoint lists it; null
 * when the endpoint does not know it) whose `Mcp-Param-{Name}` headers disagree with its arguments:
 * 400 with `-32020`. Null when they agree, and when there is nothing to check them against: an
 * unknown tool, or one whose annotations are invalid (no 2026-07-28 client is listed it).
 */
export const toolCallHeadersRefusal = (tool: unknown, request: JsonRpcRequest, headers: IncomingHttpHeaders): ProxyReply | null => {
  if (!isObject(tool)) return null
  const declared = paramHeadersOf(tool["inputSchema"])
  if (!declared.valid || declared.headers.length === 0) return null
  const problem = paramHeadersProblem(declared.headers, request.params?.["arguments"], headers)
  return problem === null ? null : headerMismatch(request.id, problem)
}
