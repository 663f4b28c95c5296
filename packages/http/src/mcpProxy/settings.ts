import { SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/sdk/types.js"

export interface McpProxySettings {
  /** How long a forwarded request may take before the client gets a RequestTimeout error. */
  readonly requestTimeoutMs: number
  /** How long a client may take to answer what a server asks it about its request (sampling, elicitation, roots); past that the server gets an error. */
  readonly serverRequestTimeoutMs: number
  /** A session with no open HTTP exchange and no request in flight for this long is forgotten. */
  readonly idleTimeoutMs: number
  /** Client sessions one server may have; an initialize past it is refused with 429. */
  readonly maxSessionsPerServer: number
  /** Client sessions of all servers together; an initialize past it is refused with 429. */
  readonly maxSessions: number
  /** Protocol versions a client may negotiate with the proxy in `initialize` (2025-era). */
  readonly supportedProtocolVersions: ReadonlyArray<string>
  /** Protocol revisions a client may name in each request's `_meta` (2026-07-28 and later), newest first. */
  readonly modernProtocolVersions: ReadonlyArray<string>
  /** How long after `exp` the verifier still accepts an agent's token: a session it authorized holds its streams that long. */
  readonly tokenLeewayMs: number
  /** Items in one page of a list on the agent endpoint `/mcp` (its lists are answered from memory). */
  readonly listPageSize: number
  /** How long a 2026-07-28 client's call answered `input_required` (MRTR) waits for its retry before it is cancelled upstream. */
  readonly mrtrTtlMs: number
  /** Calls waiting for their client's input one caller (an agent, or the operator) may have at once; past it the call is refused. */
  readonly maxHeldCallsPerCaller: number
  /** Calls waiting for their clients' input, of everyone together. */
  readonly maxHeldCalls: number
}

export const DEFAULT_PROXY_SETTINGS: McpProxySettings = {
  requestTimeoutMs: 60_000,
  serverRequestTimeoutMs: 60_000,
  idleTimeoutMs: 5 * 60_000,
  maxSessionsPerServer: 256,
  maxSessions: 2048,
  supportedProtocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
  modernProtocolVersions: ["2026-07-28"],
  tokenLeewayMs: 30_000,
  listPageSize: 1000,
  mrtrTtlMs: 60_000,
  // A held call keeps its server's request slot (DTMA_MCP_MAX_IN_FLIGHT) taken, which bounds it first.
  maxHeldCallsPerCaller: 64,
  maxHeldCalls: 1024,
}
