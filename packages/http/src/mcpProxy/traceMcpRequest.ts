import { isSpanContextValid, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span, type Tracer } from "@opentelemetry/api"
import { ErrorCodes, type JsonRpcRequest, type JsonRpcResponse } from "@dtma/domain"
import { contextFrom, traceFieldsOf, traceIdOf } from "../server/traceContext.ts"
import { PROXY_ERROR_TABLE, type ProxyFailure } from "./proxyErrorTable.ts"

/** One MCP request's span, from the proxy taking the request to its answer. */
export interface McpRequestTrace {
  /**
   * The request to pass on: with this span's `traceparent` (and `tracestate`) in `params._meta`, so
   * that a server that traces continues the DTMA's span; the request itself (not a copy) when
   * there is nothing new to pass on.
   */
  readonly request: JsonRpcRequest
  /** The trace the request belongs to (32 hex digits), for its audit record; undefined when it belongs to none. */
  readonly traceId: string | undefined
  /** Ends the span with the request's answer, null when it was cancelled, or the proxy's refusal; only the first call counts. */
  end(outcome: JsonRpcResponse | null | ProxyFailure): void
}

type Meta = Readonly<Record<string, unknown>>

const metaOf = (request: JsonRpcRequest): Meta | undefined => {
  const meta = request.params?.["_meta"]
  return typeof meta === "object" && meta !== null && !Array.isArray(meta) ? (meta as Meta) : undefined
}

const stringParam = (request: JsonRpcRequest, key: string): string | undefined => {
  const value = request.params?.[key]
  return typeof value === "string" ? value : undefined
}

/** The low-cardinality target of the span name and its attribute, by the MCP semantic conventions; never an argument. */
const targetOf = (request: JsonRpcRequest): { readonly name?: string; readonly attributes: Attributes } => {
  switch (request.method) {
    case "tools/call": {
      const tool = stringParam(request, "name")
      return tool === undefined ? { attributes: {} } : { name: tool, attributes: { "gen_ai.tool.name": tool, "gen_ai.operation.name": "execute_tool" } }
    }
    case "prompts/get": {
      const prompt = stringParam(request, "name")
      return prompt === undefined ? { attributes: {} } : { name: prompt, attributes: { "gen_ai.prompt.name": prompt } }
    }
    case "resources/read":
    case "resources/subscribe":
    case "resources/unsubscribe": {
      const uri = stringParam(request, "uri")
      return { attributes: uri === undefined ? {} : { "mcp.resource.uri": uri } }
    }
    default:
      return { attributes: {} }
  }
}

/** A span name stays readable and bounded whatever a client calls its tool. */
const MAX_TARGET_IN_NAME = 128

/** The request with `fields` in its `_meta` in place of the trace fields it had; itself when they are the same. */
const withTraceFields = (request: JsonRpcRequest, meta: Meta | undefined, fields: Readonly<Record<string, string>> | null): JsonRpcRequest => {
  if (fields === null || (meta?.["traceparent"] === fields["traceparent"] && meta?.["tracestate"] === fields["tracestate"])) return request
  const { traceparent: _, tracestate: __, ...rest } = meta ?? {}
  return { ...request, params: { ...request.params, _meta: { ...rest, ...fields } } }
}

const outcomeOf = (outcome: JsonRpcResponse | null | ProxyFailure): { readonly kind: string; readonly code?: number; readonly errorType?: string } => {
  if (outcome === null) return { kind: "cancelled" }
  if ("_tag" in outcome) return { kind: "refused", code: PROXY_ERROR_TABLE[outcome._tag].code, errorType: outcome._tag }
  if ("error" in outcome) {
    const code = outcome.error.code
    return { kind: code === ErrorCodes.RequestTimeout ? "timeout" : "error", code, errorType: String(code) }
  }
  return outcome.result["isError"] === true ? { kind: "error", errorType: "tool_error" } : { kind: "ok" }
}

const finish = (span: Span, outcome: JsonRpcResponse | null | ProxyFailure): void => {
  const { kind, code, errorType } = outcomeOf(outcome)
  span.setAttribute("dtma.mcp.outcome", kind)
  if (code !== undefined) span.setAttribute("rpc.response.status_code", String(code))
  // No status description: an error message may quote what the client sent.
  if (errorType !== undefined) {
    span.setAttribute("error.type", errorType)
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end()
}

/**
 * Starts the span of one MCP request through the proxy: `<method> <tool or prompt>` (the MCP
 * semantic conventions' name), kind server, with `mcp.method.name`, `mcp.session.id`,
 * `jsonrpc.request.id`, `dtma.mcp.server` (the server it goes to, when one) and the tool, prompt or resource — never arguments,
 * results or error messages. Its parent is the request's own `_meta.traceparent` when it has one
 * (a batch may carry several traces; the HTTP request's span is then a link), else the HTTP
 * request's span (`parent`). Not recording (tracing off), it costs a span object, and passes on
 * the caller's trace context when there is one.
 */
export const traceMcpRequest = (
  tracer: Tracer,
  options: { readonly parent: Context; readonly request: JsonRpcRequest; readonly server: string | null; readonly sessionId: string | null },
): McpRequestTrace => {
  const { parent, request } = options
  const meta = metaOf(request)
  const fromMeta = meta?.["traceparent"] === undefined ? parent : contextFrom(meta, parent)
  const http = trace.getSpanContext(parent)
  const links: Array<Link> = fromMeta !== parent && http !== undefined && isSpanContextValid(http) ? [{ context: http }] : []
  const target = targetOf(request)
  const name = target.name === undefined ? request.method : `${request.method} ${target.name.slice(0, MAX_TARGET_IN_NAME)}`
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER, links }, fromMeta)
  if (span.isRecording()) {
    span.setAttributes({
      "mcp.method.name": request.method,
      ...(options.sessionId === null ? {} : { "mcp.session.id": options.sessionId }),
      "jsonrpc.request.id": String(request.id),
      ...(options.server === null ? {} : { "dtma.mcp.server": options.server }),
      ...target.attributes,
    })
  }
  const spanContext = span.spanContext()
  let ended = false
  return {
    request: withTraceFields(request, meta, traceFieldsOf(spanContext)),
    traceId: traceIdOf(spanContext),
    end: (outcome) => {
      if (ended) return
      ended = true
      if (span.isRecording()) finish(span, outcome)
    },
  }
}
