import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { SseError } from "@modelcontextprotocol/sdk/client/sse.js"
import { StdioFramingError } from "./AttachStdioTransport.ts"

/** What kind of thing went wrong on a connection, out of band of any one call. */
export type TransportProblemKind = "not-json" | "not-json-rpc" | "oversized-line" | "http-status" | "connection"

/** An error a transport reported, as the log hears of it: a kind and one short sentence. */
export interface TransportProblem {
  readonly kind: TransportProblemKind
  /** At most `MAX_DETAIL` characters on one line, never what the server sent in a message. */
  readonly detail: string
  /** The first problem of its kind on this connection; a repeat is worth a debug line at most. */
  readonly first: boolean
}

const MAX_DETAIL = 200

/** The first line of an error's message, cut at `MAX_DETAIL` characters. */
const briefly = (message: string): string => {
  const line = message.split("\n", 1)[0] ?? ""
  return line.length > MAX_DETAIL ? `${line.slice(0, MAX_DETAIL - 1)}…` : line
}

/**
 * What an error says, kept to its kind and a short sentence. The parsers' errors quote or dissect
 * what the server sent (JSON.parse quotes it; the SDK's schema lists every way a message missed,
 * several kilobytes), and a server can send the secrets it was given: neither is repeated. An HTTP
 * refusal is told by its status, not by the body the SDK appends.
 */
export const problemOf = (error: Error): Omit<TransportProblem, "first"> => {
  if (error instanceof StdioFramingError) return { kind: error.kind, detail: error.message }
  if (error instanceof SyntaxError) return { kind: "not-json", detail: "the server sent a message that is not JSON" }
  if (error.name === "ZodError") return { kind: "not-json-rpc", detail: "the server sent an event that is not a JSON-RPC message" }
  if (error instanceof StreamableHTTPError) {
    return {
      kind: "http-status",
      detail: (error.code ?? 0) > 0 ? `the server answered HTTP ${error.code}` : "the server answered with a content type MCP does not use",
    }
  }
  if (error instanceof SseError)
    return { kind: "connection", detail: error.code === undefined ? "the event stream failed" : `the event stream failed (HTTP ${error.code})` }
  return { kind: "connection", detail: briefly(error.message) }
}

/**
 * A reporter for one connection: each error goes to `report` as a problem, flagged `first` only for
 * the first of its kind, so that a server repeating itself (a stdout banner, a replayed stream) costs
 * one warning, not one per event.
 */
export const problemReporter = (report: (problem: TransportProblem) => void): ((error: Error) => void) => {
  const seen = new Set<TransportProblemKind>()
  return (error) => {
    const problem = problemOf(error)
    const first = !seen.has(problem.kind)
    seen.add(problem.kind)
    report({ ...problem, first })
  }
}
