import type { McpSettings, McpTransport, PortRequest } from "@dtma/domain"

export const DEFAULT_MCP_PORT = 8080

/** Where a network server listens inside its container when the caller does not say. */
export const DEFAULT_MCP_PATHS: Readonly<Record<Exclude<McpTransport, "stdio">, string>> = { sse: "/sse", websocket: "/", streamable_http: "/mcp" }

/** MCP settings with the defaults filled in; a stdio server has neither path nor port. */
export const mcpSettingsFor = (transport: McpTransport, endpointPath: string | null | undefined, port: number | null | undefined): McpSettings =>
  transport === "stdio"
    ? { transport, endpointPath: null, port: null }
    : { transport, endpointPath: endpointPath ?? DEFAULT_MCP_PATHS[transport], port: port ?? DEFAULT_MCP_PORT }

/**
 * The port requests with a network server's own port published on loopback (on a free host port)
 * unless a request already covers it: the DTMA reaches the server through it.
 */
export const withMcpPort = (ports: ReadonlyArray<PortRequest>, mcp: McpSettings | null): ReadonlyArray<PortRequest> => {
  if (mcp === null || mcp.port === null) return ports
  const covered = ports.some((p) => p.containerPort === mcp.port && p.protocol === "tcp")
  return covered ? ports : [...ports, { containerPort: mcp.port, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null }]
}
