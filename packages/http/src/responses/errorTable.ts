import type {
  AuditLogUnreadable,
  CredentialError,
  DeployError,
  InvalidRevocation,
  InvalidTokenRequest,
  IssuerKeysFailed,
  ManageError,
  McpGroupExists,
  McpGroupNotFound,
  NoOAuthConnections,
  McpConnectFailed,
  McpRequestFailed,
  McpServerBusy,
  McpServerNotReady,
  McpServerUnavailable,
  RevocationStoreFailed,
} from "@dtma/domain"
import { BODY_NAMES, type InvalidRequest } from "../requests/InvalidRequest.ts"
import type { MissingRequiredFields } from "../requests/MissingRequiredFields.ts"

/** A status and a JSON body. */
export interface Reply {
  readonly status: number
  readonly body: unknown
}

/**
 * What an operation acts on: the legacy tool routes speak of tools, the MCP routes of MCP servers (or
 * groups of them), the agent-access routes of agents and their tokens, `GET /audit` of the audit log.
 */
export type Subject = "tool" | "mcp_server" | "mcp_group" | "agent" | "agent_token" | "audit"

/** What the caller asked for, so a failure can say what failed. */
export type Operation =
  | {
      readonly verb: "deploy" | "redeploy" | "remove" | "start" | "stop" | "restart" | "get" | "logs" | "refresh_oauth" | "issue_token" | "revoke"
      readonly name: string
      readonly subject?: Subject
    }
  | { readonly verb: "list"; readonly subject?: Subject }
  | { readonly verb: "list_keys"; readonly subject?: Subject }
  | { readonly verb: "rotate_keys"; readonly subject?: Subject }

/** Every expected failure an HTTP handler can meet. */
export type HttpFailure =
  | DeployError
  | ManageError
  | MissingRequiredFields
  | InvalidRequest
  | McpServerNotReady
  | McpServerUnavailable
  | McpServerBusy
  | McpConnectFailed
  | McpRequestFailed
  | McpGroupExists
  | McpGroupNotFound
  | CredentialError
  | NoOAuthConnections
  | InvalidTokenRequest
  | InvalidRevocation
  | IssuerKeysFailed
  | RevocationStoreFailed
  | AuditLogUnreadable

type Tag = HttpFailure["_tag"]
type Row<T extends Tag> = (error: Extract<HttpFailure, { readonly _tag: T }>, operation: Operation) => Reply

const VERB_PHRASES: Readonly<Record<Exclude<Operation["verb"], "list" | "list_keys" | "rotate_keys">, string>> = {
  deploy: "deploy",
  remove: "remove",
  start: "start",
  stop: "stop",
  restart: "restart",
  redeploy: "redeploy",
  get: "read",
  logs: "read the logs of",
  refresh_oauth: "refresh the OAuth credentials of",
  issue_token: "issue a token for",
  revoke: "revoke",
}

const SUBJECT_NAMES: Readonly<Record<Subject, string>> = {
  tool: "tool instance",
  mcp_server: "MCP server",
  mcp_group: "MCP server group",
  agent: "agent",
  agent_token: "agent token",
  audit: "audit log",
}

const failedTo = (operation: Operation): string => {
  const subject = operation.subject ?? "tool"
  if (operation.verb === "list") {
    return subject === "tool" ? "Failed to list tool instances." : subject === "audit" ? "Failed to read the audit log." : "Failed to list MCP servers."
  }
  if (operation.verb === "list_keys") return "Failed to list the agent token signing keys."
  if (operation.verb === "rotate_keys") return "Failed to rotate the agent token signing key."
  const what = subject === "tool" && operation.verb === "deploy" ? "tool" : SUBJECT_NAMES[subject]
  return `Failed to ${VERB_PHRASES[operation.verb]} ${what} '${operation.name}'.`
}

// The legacy "any other failure" shape: what was attempted, and why it failed (plus a code for the new kinds).
const otherFailure =
  (status: number, code?: string) =>
  (error: { readonly message: string }, operation: Operation): Reply => ({
    status,
    body: { success: false, message: failedTo(operation), error: error.message, ...(code === undefined ? {} : { code }) },
  })

const conflict = (error: { readonly message: string }): Reply => ({ status: 409, body: { success: false, error: error.message } })

/**
 * The one mapping from failure to HTTP answer. Bodies carry the domain's messages, which are built
 * from names, ports, images and what servers wrote to stderr, never from environment values or tokens.
 */
export const ERROR_TABLE: { readonly [T in Tag]: Row<T> } = {
  MissingRequiredFields: (e) => ({ status: 400, body: { success: false, error: e.message } }),
  InvalidInstanceSpec: (e) => ({ status: 400, body: { success: false, error: `Invalid ${BODY_NAMES[e.field]}: ${e.problem}`, code: "invalid_request" } }),
  InvalidRequest: (e) => ({ status: 400, body: { success: false, error: e.message, code: "invalid_request" } }),
  InstanceAlreadyExists: (e) => ({ status: 409, body: { success: false, error: `Instance with name '${e.name}' already exists.` } }),
  PortConflict: conflict,
  NameTakenByUnmanagedContainer: conflict,
  InstanceNotFound: (e, operation) =>
    (operation.subject ?? "tool") !== "tool"
      ? { status: 404, body: { success: false, error: `MCP server '${e.name}' not found or not managed by this DTMA.`, code: "not_found" } }
      : { status: 404, body: { success: false, error: `Tool instance '${e.name}' not found or not managed by this DTMA.` } },
  ImageUnavailable: otherFailure(422),
  RuntimeUnavailable: otherFailure(503),
  RuntimeOperationFailed: otherFailure(502),
  McpServerNotReady: otherFailure(502, "mcp_server_not_ready"),
  McpServerUnavailable: otherFailure(503, "mcp_server_unavailable"),
  McpServerBusy: otherFailure(429, "mcp_server_busy"),
  McpConnectFailed: otherFailure(502, "mcp_connect_failed"),
  McpRequestFailed: otherFailure(502, "mcp_request_failed"),
  McpGroupExists: (e) => ({ status: 409, body: { success: false, error: e.message } }),
  McpGroupNotFound: (e) => ({
    status: 404,
    body: {
      success: false,
      error:
        `MCP server group '${e.groupId}' not found; groups deployed before the DTMA last started are not kept, ` +
        "remove their servers through DELETE /mcp-servers/:name.",
      code: "not_found",
    },
  }),
  // The backend failed or refused: the message names the connection and the backend's reason.
  CredentialFetchFailed: (e, operation) =>
    otherFailure(502, `${(operation.subject ?? "tool") === "tool" ? "tool_secrets" : "oauth"}_${e.reason}`)(e, operation),
  CredentialDeliveryFailed: (e, operation) => otherFailure(e.reason === "unsafe_name" ? 502 : 503, "credential_delivery_failed")(e, operation),
  NoOAuthConnections: (e) => ({ status: 409, body: { success: false, error: e.message, code: "no_oauth_connections" } }),
  InvalidTokenRequest: (e) => ({ status: 400, body: { success: false, error: e.message, code: "invalid_request" } }),
  InvalidRevocation: (e) => ({ status: 400, body: { success: false, error: e.message, code: "invalid_request" } }),
  // The key file could not be written: nothing changed, the current key still signs.
  IssuerKeysFailed: otherFailure(503, "signing_keys_failed"),
  // The revocation holds in this process already; only its surviving a restart failed. Revoking again is safe.
  RevocationStoreFailed: (e, operation) =>
    otherFailure(503, "revocation_not_kept")(
      { message: `${e.message}. The revocation holds until the DTMA restarts; revoke again once the state directory is writable.` },
      operation,
    ),
  AuditLogUnreadable: otherFailure(503, "audit_unreadable"),
}

/** A defect: a bug, never an expected outcome. Legacy callers read `message` and `error` on a 500. */
export const INTERNAL_ERROR: Reply = { status: 500, body: { success: false, message: "Failed to handle the request.", error: "Internal error" } }

/** A defect in a known operation: the legacy "any other failure" body, saying what failed. */
export const defectReply = (operation: Operation): Reply => ({ status: 500, body: { success: false, message: failedTo(operation), error: "Internal error" } })

export const replyForFailure = (error: HttpFailure, operation: Operation): Reply =>
  (ERROR_TABLE[error._tag] as (error: HttpFailure, operation: Operation) => Reply)(error, operation)
