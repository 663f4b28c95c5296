import type { AuditOutcome, JsonRpcRequest } from "@dtma/domain"

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
