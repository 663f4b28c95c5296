import type { CallerIdentity } from "../access/AgentIdentity.ts"
import { instanceNameProblem } from "../instanceName.ts"

/**
 * How a request ended. `denied`: refused for who the caller is or what it may use (401, 403, an
 * ungranted tool); `rate_limited`: over its rate (429); `cancelled`: the caller gave up (a
 * cancellation, a closed connection); `timeout`: no answer in time; `error`: any other failure.
 */
export type AuditOutcome = "ok" | "error" | "denied" | "rate_limited" | "cancelled" | "timeout"

export const AUDIT_OUTCOMES: ReadonlyArray<AuditOutcome> = ["ok", "error", "denied", "rate_limited", "cancelled", "timeout"]

/**
 * Who made a request, as the audit keeps it: an agent by its id and token id, the operator by a
 * fingerprint of the key it presented (never the key), `anonymous` when the request carried no
 * credential the DTMA recognised (no token, a malformed or refused one).
 */
export type AuditCaller =
  | { readonly kind: "agent"; readonly sub: string; readonly jti: string | null }
  | { readonly kind: "operator"; readonly fingerprint: string }
  | { readonly kind: "anonymous" }

/**
 * One request on an MCP endpoint, or one management operation. Holds no argument, no result, no
 * body and no token: only what `auditRecordOf` lets through.
 */
export interface AuditRecord {
  /** When the request was answered (ISO 8601, UTC, ms): records are kept in this order. */
  readonly time: string
  readonly caller: AuditCaller
  /** The route pattern (`/mcp-servers/:name/mcp`, `/tools/:name/start`), never the raw path; `unmatched` for no route. */
  readonly route: string
  /** The instance the request addressed, when it names one. */
  readonly server: string | null
  /** An MCP request's JSON-RPC method (`tools/call`); a management request's HTTP method (`POST`). */
  readonly method: string | null
  /** The tool, prompt or resource URI asked for (a URI without its query, fragment and user info). */
  readonly name: string | null
  readonly outcome: AuditOutcome
  /** A short machine code for a failure (`not_found`, `404`, `-32601`, `insufficient_scope`); never free text. */
  readonly errorCode: string | null
  readonly durationMs: number
  readonly requestBytes: number
  readonly responseBytes: number
  /** The MCP session (`Mcp-Session-Id`), when there is one. */
  readonly sessionId: string | null
  /** The W3C trace id (32 hex digits), when the request was traced. */
  readonly traceId: string | null
}

/** What an edge knows of a request when it is answered; everything but the route is optional. */
export interface AuditRecordInput {
  /** Unix ms. */
  readonly time: number
  /** `null` or absent: anonymous. An agent's grants and times are not kept. */
  readonly caller?: CallerIdentity | AuditCaller | null | undefined
  readonly route: string
  readonly server?: string | null | undefined
  readonly method?: string | null | undefined
  readonly name?: string | null | undefined
  readonly outcome: AuditOutcome
  readonly errorCode?: string | number | null | undefined
  readonly durationMs?: number | undefined
  readonly requestBytes?: number | undefined
  readonly responseBytes?: number | undefined
  readonly sessionId?: string | null | undefined
  readonly traceId?: string | null | undefined
}

export const MAX_AUDIT_ROUTE_LENGTH = 128
export const MAX_AUDIT_METHOD_LENGTH = 128
export const MAX_AUDIT_NAME_LENGTH = 256
export const MAX_AUDIT_AGENT_ID_LENGTH = 128
export const MAX_AUDIT_TOKEN_ID_LENGTH = 256
/** What an operator fingerprint is: the first 12 hex digits of a digest of the key (made at the edge). */
export const OPERATOR_FINGERPRINT = /^[0-9a-f]{12}$/
/** Kept in place of a fingerprint that is not one: a key handed in by mistake never reaches a record. */
export const NOT_A_FINGERPRINT = "invalid"

const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/
const SESSION_ID = /^[\x21-\x7e]{1,128}$/
const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/
// oxlint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g
const URI_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/
const USER_INFO = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/

/** Printable, at most `max` characters (cut ones end in `…`); null for nothing left. */
const text = (value: unknown, max: number): string | null => {
  if (typeof value !== "string") return null
  const clean = value.replace(CONTROL, "?")
  if (clean.length === 0) return null
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`
}

/** A resource URI's query and fragment may carry a credential, and so may its user info: only the rest is kept. */
const nameOf = (value: unknown): string | null => {
  if (typeof value !== "string") return null
  const cut = URI_SCHEME.test(value) ? value.replace(USER_INFO, "$1").replace(/[?#].*$/s, "") : value
  return text(cut, MAX_AUDIT_NAME_LENGTH)
}

const matching = (value: unknown, pattern: RegExp): string | null => (typeof value === "string" && pattern.test(value) ? value : null)

const count = (value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.min(Math.round(value), Number.MAX_SAFE_INTEGER) : 0

const millis = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value * 1000) / 1000 : 0)

const timeOf = (ms: unknown): string => {
  const date = new Date(typeof ms === "number" && Number.isFinite(ms) ? ms : 0)
  return Number.isNaN(date.getTime()) ? new Date(0).toISOString() : date.toISOString()
}

/** The audit's view of a caller: an agent's id and token id, an operator's fingerprint, nothing else. */
export const auditCallerOf = (caller: CallerIdentity | AuditCaller | null | undefined): AuditCaller => {
  if (caller === null || caller === undefined || typeof caller !== "object") return { kind: "anonymous" }
  if (caller.kind === "agent") {
    const sub = text(caller.sub, MAX_AUDIT_AGENT_ID_LENGTH)
    return sub === null ? { kind: "anonymous" } : { kind: "agent", sub, jti: text(caller.jti, MAX_AUDIT_TOKEN_ID_LENGTH) }
  }
  if (caller.kind === "operator") return { kind: "operator", fingerprint: matching(caller.fingerprint, OPERATOR_FINGERPRINT) ?? NOT_A_FINGERPRINT }
  return { kind: "anonymous" }
}

/**
 * The record of one request. Only the fields named here are read, each reduced to what it may
 * hold: texts made printable and capped, codes, session and trace ids kept only when they have
 * their form, a server only when it is an instance name, numbers finite and not negative. Whatever
 * else the input carries (arguments, a body, a token) cannot reach the record.
 */
export const auditRecordOf = (input: AuditRecordInput): AuditRecord => ({
  time: timeOf(input.time),
  caller: auditCallerOf(input.caller),
  route: text(input.route, MAX_AUDIT_ROUTE_LENGTH) ?? "unmatched",
  server: typeof input.server === "string" && instanceNameProblem(input.server) === null ? input.server : null,
  method: text(input.method, MAX_AUDIT_METHOD_LENGTH),
  name: nameOf(input.name),
  outcome: AUDIT_OUTCOMES.includes(input.outcome) ? input.outcome : "error",
  errorCode: matching(typeof input.errorCode === "number" && Number.isInteger(input.errorCode) ? String(input.errorCode) : input.errorCode, ERROR_CODE),
  durationMs: millis(input.durationMs),
  requestBytes: count(input.requestBytes),
  responseBytes: count(input.responseBytes),
  sessionId: matching(input.sessionId, SESSION_ID),
  traceId: matching(input.traceId, TRACE_ID),
})

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/**
 * A record read back (from a file, say), or null when the value is not one. It goes through the
 * same rules as `auditRecordOf`, so a damaged or edited line cannot put anything else in an answer.
 */
export const parseAuditRecord = (value: unknown): AuditRecord | null => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null
  const r = value as Record<string, unknown>
  if (typeof r["time"] !== "string" || !ISO_TIME.test(r["time"]) || typeof r["route"] !== "string") return null
  if (!AUDIT_OUTCOMES.includes(r["outcome"] as AuditOutcome)) return null
  const caller = r["caller"]
  if (typeof caller !== "object" || caller === null || !["agent", "operator", "anonymous"].includes(String((caller as { kind?: unknown }).kind))) return null
  const time = Date.parse(r["time"])
  if (Number.isNaN(time)) return null
  return auditRecordOf({
    time,
    caller: caller as AuditCaller,
    route: r["route"],
    server: r["server"] as string | null,
    method: r["method"] as string | null,
    name: r["name"] as string | null,
    outcome: r["outcome"] as AuditOutcome,
    errorCode: r["errorCode"] as string | null,
    durationMs: r["durationMs"] as number,
    requestBytes: r["requestBytes"] as number,
    responseBytes: r["responseBytes"] as number,
    sessionId: r["sessionId"] as string | null,
    traceId: r["traceId"] as string | null,
  })
}
