import type { AuditOutcome, JsonRpcRequest, JsonRpcResponse } from "@dtma/domain"
import { outcomeOfJsonRpcError } from "../server/auditMcpRequest.ts"

/** How one JSON-RPC request the proxy took on ended, for its audit record. */
export interface CallEnd {
  readonly outcome: AuditOutcome
  /** The JSON-RPC error code answered, or why the DTMA answered in the server's place (`insufficient_scope`); null for a success. */
  readonly errorCode: number | string | null
  /** The bytes of its answer as written (0 when it had none). */
  readonly responseBytes: number
}

/**
 * The JSON-RPC requests of one HTTP request that the proxy took on, for the audit: each is begun
 * once, and ended once by the function `begin` returns. A POST the proxy refuses as a whole is
 * `abandon`ed: then the HTTP request's own record says how it ended.
 */
export interface CallTally {
  /** `request`: as it went to `server` (the server's own names); `server`: null when the DTMA answered it alone, naming none. */
  begin(call: {
    readonly request: JsonRpcRequest
    readonly server: string | null
    /** Null for a 2026-07-28 request: it has no session. */
    readonly sessionId: string | null
    readonly traceId: string | null
  }): (end: CallEnd) => void
  abandon(): void
}

/** For a request nobody audits (the proxy's unit tests, say). */
export const NO_TALLY: CallTally = { begin: () => () => undefined, abandon: () => undefined }

/** How a request ended, from its answer; `deniedFor`: the DTMA refused it in the server's place, for that reason. */
export const callEndOf = (response: JsonRpcResponse | null, deniedFor: string | undefined, responseBytes: number): CallEnd => {
  if (response === null) return { outcome: "cancelled", errorCode: null, responseBytes }
  if (deniedFor !== undefined) return { outcome: "denied", errorCode: deniedFor, responseBytes }
  if ("error" in response) return { outcome: outcomeOfJsonRpcError(response.error.code), errorCode: response.error.code, responseBytes }
  // A tool's own failure is a result (`isError`), not a JSON-RPC error: the call still failed.
  const toolFailed = (response.result as { isError?: unknown } | undefined)?.isError === true
  return toolFailed ? { outcome: "error", errorCode: "tool_error", responseBytes } : { outcome: "ok", errorCode: null, responseBytes }
}
