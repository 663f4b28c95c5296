import { SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/sdk/types.js"

export interface McpProxySettings {
  /** How long a forwarded request may take before the client gets a RequestTimeout error. */
  readonly requestTimeoutMs: number
  /** A session with no open HTTP exchange and no request in flight for this long is forgotten. */
  readonly idleTimeoutMs: number
  /** Protocol versions a client may negotiate with the proxy. */
  readonly supportedProtocolVersions: ReadonlyArray<string>
}

export const DEFAULT_PROXY_SETTINGS: McpProxySettings = {
  requestTimeoutMs: 60_000,
  idleTimeoutMs: 10 * 60_000,
  supportedProtocolVersions: SUPPORTED_PROTOCOL_VERSIONS,
}
