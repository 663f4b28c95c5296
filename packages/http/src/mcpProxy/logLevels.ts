import { ErrorCodes, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from "@dtma/domain"

/** MCP's log levels (RFC 5424's severities), least severe first. */
export const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const

export type LogLevel = (typeof LOG_LEVELS)[number]

const isLogLevel = (value: unknown): value is LogLevel => typeof value === "string" && (LOG_LEVELS as ReadonlyArray<string>).includes(value)

/** The level a `notifications/message` says, if it is one MCP names. */
export const levelOf = (notification: JsonRpcNotification): LogLevel | null => {
  const level = notification.params?.["level"]
  return isLogLevel(level) ? level : null
}

/** Whether a log message passes a session's `logging/setLevel` (a level MCP does not name passes: nothing to compare). */
export const passesLevel = (notification: JsonRpcNotification, least: LogLevel | null): boolean => {
  const level = levelOf(notification)
  return least === null || level === null || LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(least)
}

/**
 * The DTMA's own answer to an agent's `logging/setLevel`, and the level it sets for the agent's
 * session: the server's level is that of the connection every session shares, so an agent's
 * request never reaches it. A server without the `logging` capability answers as the SDK's do.
 */
export const setLevelLocally = (
  request: JsonRpcRequest,
  capabilities: Readonly<Record<string, unknown>>,
): { readonly answer: JsonRpcResponse; readonly level: LogLevel | null } => {
  const { id } = request
  if (typeof capabilities["logging"] !== "object" || capabilities["logging"] === null) {
    return { answer: { jsonrpc: "2.0", id, error: { code: ErrorCodes.MethodNotFound, message: "Method not found" } }, level: null }
  }
  const level = request.params?.["level"]
  if (!isLogLevel(level)) {
    const message = `Invalid params: logging/setLevel takes a level, one of ${LOG_LEVELS.join(", ")}`
    return { answer: { jsonrpc: "2.0", id, error: { code: ErrorCodes.InvalidParams, message } }, level: null }
  }
  return { answer: { jsonrpc: "2.0", id, result: {} }, level }
}
