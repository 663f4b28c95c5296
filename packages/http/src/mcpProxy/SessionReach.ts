import type { JsonRpcNotification, JsonRpcRequest, JsonRpcResponse, ServerRequestRelay } from "@dtma/domain"
import type { Stop } from "./answerRequest.ts"
import type { ProxyFailure } from "./proxyErrorTable.ts"
import type { LogLevel } from "./logLevels.ts"
import type { Authorized } from "./requestAccess.ts"
import type { HubMember } from "./ServerHub.ts"

/** A client session as what it reaches sees it: where notifications go, and who last authorized it. */
export interface ReachMember extends HubMember {
  /** The caller of the session's last request, and what that request could reach. */
  authorized(): Authorized
}

/** Where the answer to one request goes, and its progress. */
export interface Answering {
  readonly sessionId: string
  /** A progress notification of the request, under the client's own token. */
  readonly progress: (notification: JsonRpcNotification) => void
  /** A log message the server sent about the request (see `RequestOptions.onLogMessage`). */
  readonly logMessage: (notification: JsonRpcNotification) => void
  /**
   * Asks the request's client what the server asks about it (sampling, elicitation, roots), on the
   * request's own answer; refused when the client did not declare the capability it needs.
   */
  readonly serverRequests: ServerRequestRelay
  /** The session's own `logging/setLevel`, answered here for an agent: its log messages below `level` are not sent to it. */
  readonly setLogLevel: (level: LogLevel) => void
  /** The level the session set (`setLogLevel`), if any: a server that speaks only 2026-07-28 is told it with each request. */
  readonly logLevel?: (() => LogLevel | null) | undefined
  /**
   * The request's one answer; null when it was interrupted before it had one. `deniedFor`: the DTMA
   * answered in the server's place, refusing the caller for this reason (a machine code).
   */
  readonly settle: (response: JsonRpcResponse | null, deniedFor?: string) => void
  /**
   * The request is a 2026-07-28 client's retry (MRTR): where it would be forwarded to a 2025-era server,
   * it takes over the call the DTMA holds for it instead (`HeldCalls.resume`); a server that speaks
   * 2026-07-28 itself gets the retry, its own state unsealed (`modernPassThrough.ts`). Grants and
   * routing apply as to any request.
   */
  readonly resume?: (() => Stop) | undefined
  /**
   * A 2026-07-28 request's own envelope (its `io.modelcontextprotocol/*` `_meta` keys, as it came):
   * kept from a 2025-era server, passed through to a server that speaks 2026-07-28 itself.
   */
  readonly envelope?: Readonly<Record<string, unknown>> | undefined
  /** Whom a 2026-07-28 server's `requestState` handed on with its answer is sealed to (`requestStateSeal.ts`): its caller. */
  readonly stateOwner?: string | undefined
}

/** One request, routed: the server it goes to, the request as that server knows it, and how it is answered. */
export interface Routed {
  /** The server it goes to, for its span and audit record; null when the DTMA answers it alone, naming no server. */
  readonly server: string | null
  /** The request as the server knows it (its own names, the client's id); the request itself when nothing is renamed. */
  readonly request: JsonRpcRequest
  /**
   * Answers `request` (the routed one, trace fields added): settles it, now or later, and returns how
   * to stop it; or returns why the whole POST is refused (nothing settled).
   */
  answer(request: JsonRpcRequest, answering: Answering): ProxyFailure | Stop
}

/**
 * What a client session reaches: one server (its endpoint `/mcp-servers/:name/mcp`, `hubReach`) or
 * every server its caller's grants name (the agent endpoint `/mcp`, `AgentEndpoint`). A session
 * keeps its requests, streams, owner and ends; its reach decides where each request goes, what is
 * renamed on the way, and which server notifications reach it.
 */
export interface SessionReach {
  /** What the session is counted under: the server's name, or `/mcp`. */
  readonly name: string
  /** The server every request of the session goes to; null when it depends on the request. */
  readonly server: string | null
  /** Routes one request of `authorized`'s on `member`; nothing is sent before `answer`. */
  route(request: JsonRpcRequest, authorized: Authorized, member: ReachMember): Routed
  /** The session is open: server notifications may reach it from now on. */
  join(member: ReachMember): void
  /** The session ended: nothing reaches it any more, its resource subscriptions are dropped. */
  leave(member: ReachMember): void
  /** A client notification (not a cancellation), passed on where it may go. */
  receive(notification: JsonRpcNotification, authorized: Authorized): void
  /** Whether a notification on its way to a session may reach it, last authorized as `authorized`. */
  mayReceive(notification: JsonRpcNotification, authorized: Authorized): boolean
}
