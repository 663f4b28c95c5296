import { auditRecordOf, ErrorCodes, type AuditCaller, type AuditOutcome, type AuditRecord, type CallerIdentity } from "@dtma/domain"

/** The MCP endpoints' route patterns, as their records name them. */
export type McpEndpointRoute = "/mcp-servers/:name/mcp" | "/mcp"

/** What an MCP endpoint knows of one JSON-RPC request (or of a refusal before one was read) when it is answered. */
export interface McpRequestAudit {
  /** Unix ms, when the answer was sent. */
  readonly time: number
  readonly route: McpEndpointRoute
  /** The server addressed (for `/mcp`, the one the request went to); null when none. */
  readonly server: string | null
  /** Who: the verified agent or operator; null for no or a refused credential (anonymous). */
  readonly caller: CallerIdentity | AuditCaller | null
  /**
   * The JSON-RPC request as received, or null when the body was not one. Only its `method` and the
   * name of what it asks for (a tool's or prompt's `name`, a resource's `uri`) are read; its
   * arguments never are.
   */
  readonly request: unknown
  readonly outcome: AuditOutcome
  /** The JSON-RPC error code answered (`-32601`), or the refusal's code (`insufficient_scope`). */
  readonly errorCode?: number | string | null
  readonly durationMs: number
  readonly requestBytes: number
  readonly responseBytes: number
  readonly sessionId?: string | null
  readonly traceId?: string | null
}

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined
const textOf = (value: unknown): string | null => (typeof value === "string" ? value : null)

/** The name of what an MCP request asks for: a tool or prompt name, a resource URI, a completion's reference; else null. */
export const mcpRequestNameOf = (method: string, params: unknown): string | null => {
  switch (method) {
    case "tools/call":
    case "prompts/get":
      return textOf(field(params, "name"))
    case "resources/read":
    case "resources/subscribe":
    case "resources/unsubscribe":
      return textOf(field(params, "uri"))
    case "completion/complete": {
      const ref = field(params, "ref")
      return textOf(field(ref, "name")) ?? textOf(field(ref, "uri"))
    }
    default:
      return null
  }
}

/** The outcome of a request answered with a JSON-RPC error: timed out, refused as busy (429), or an error. */
export const outcomeOfJsonRpcError = (code: number): AuditOutcome => {
  if (code === ErrorCodes.RequestTimeout) return "timeout"
  if (code === ErrorCodes.ServerBusy) return "rate_limited"
  return "error"
}

/**
 * The audit record of one request on an MCP endpoint, refusals included, for the endpoint to hand
 * to the `AuditLog`. Goes through `auditRecordOf`: nothing but the record's fields gets in.
 */
export const auditMcpRequest = (input: McpRequestAudit): AuditRecord => {
  const method = textOf(field(input.request, "method"))
  return auditRecordOf({
    time: input.time,
    caller: input.caller,
    route: input.route,
    server: input.server,
    method,
    name: method === null ? null : mcpRequestNameOf(method, field(input.request, "params")),
    outcome: input.outcome,
    errorCode: input.errorCode,
    durationMs: input.durationMs,
    requestBytes: input.requestBytes,
    responseBytes: input.responseBytes,
    sessionId: input.sessionId,
    traceId: input.traceId,
  })
}
