import type { IncomingHttpHeaders } from "node:http"
import { paramHeadersOf, paramText, valueAt, type ParamHeader } from "@dtma/adapters"
import type { JsonRpcRequest } from "@dtma/domain"
import { decodeHeaderValue, headerMismatch } from "./eraOf.ts"
import { isObject } from "./isObject.ts"
import type { ProxyReply } from "./proxyErrorTable.ts"

// The `Mcp-Param-{Name}` headers a 2026-07-28 `tools/call` carries for the called tool's
// `x-mcp-header` annotations (`paramHeadersOf`, in `@dtma/adapters`), checked as
// basic/transports/streamable-http.mdx says ("Value Encoding", "Server Behavior for Custom
// Headers"): as the v2 SDK's `validateMcpParamHeaders`, except that it refuses a header sent for a
// value the body does not carry.

const PREFIX = "Mcp-Param-"
/** What an HTTP field value may hold (RFC 9110, "Field Values"): visible ASCII, space, tab. */
const FIELD_VALUE = /^[\t\x20-\x7E]*$/
const DECIMAL = /^-?\d+(?:\.\d+)?$/

/** Whether a 2026-07-28 client may be listed a tool: its annotations, if any, are valid (clients MUST leave out the others). */
export const modernListable = (tool: unknown): boolean => !isObject(tool) || paramHeadersOf(tool["inputSchema"]).valid

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
