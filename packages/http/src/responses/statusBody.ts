import type { HostMetricsSample, ManagedContainer, McpServerView, OAuthConnectionView } from "@dtma/domain"
import type { Config } from "../composition/config.ts"
import { listedPort } from "./dockerShapes.ts"
import { mcpSummaryOf } from "./mcpServerShapes.ts"
import { DTMA_VERSION } from "../composition/version.ts"

/** One managed instance in the legacy `tool_instances` shape. */
export const toolInstanceEntry = (c: ManagedContainer) => ({
  account_tool_instance_id: c.accountToolInstanceId,
  instance_name_on_toolbox: c.name,
  container_id: c.containerId,
  status: c.state,
  image: c.image,
  created: c.createdAt,
  ports: c.ports.map(listedPort),
  id: c.containerId,
  names: [c.containerName],
  state: c.state,
  kind: c.kind,
})

// `health_status` is null for a container the DTMA does not supervise (its adoption failed).
const mcpServerEntry = (c: ManagedContainer, view: McpServerView | undefined) => ({
  ...toolInstanceEntry(c),
  mcp_transport: c.mcp?.transport ?? null,
  mcp_endpoint: c.mcp?.endpointPath ?? null,
  mcp_port: c.mcp?.port ?? null,
  transport_type: c.mcp?.transport ?? null,
  health_status: view?.healthStatus ?? null,
  last_health_check: view?.lastHealthCheck ?? null,
  restart_count: view?.restartCount ?? 0,
})

export const systemMetricsOf = (s: HostMetricsSample) => ({
  cpu_load_percent: s.cpuLoadPercent,
  memory: { total_bytes: s.memory.totalBytes, active_bytes: s.memory.activeBytes, free_bytes: s.memory.freeBytes, used_bytes: s.memory.usedBytes },
  disk: { mount: s.disk.mount, total_bytes: s.disk.totalBytes, used_bytes: s.disk.usedBytes, free_bytes: s.disk.freeBytes },
})

/**
 * The body of `GET /status` and `GET /tools/status`: the union of the shapes old callers read.
 * Configuration appears only as flags, never as values.
 */
export const statusBody = (options: {
  readonly instances: ReadonlyArray<ManagedContainer>
  /** The supervised MCP servers. */
  readonly mcpServers: ReadonlyArray<McpServerView>
  /** Their OAuth connections' states, for the summary's counts. */
  readonly oauth?: ReadonlyArray<OAuthConnectionView>
  readonly system: HostMetricsSample
  readonly config: Config
  readonly now: Date
}) => {
  const { instances, config } = options
  const views = new Map(options.mcpServers.map((v) => [v.instanceName, v]))
  return {
    status: "healthy",
    timestamp: options.now.toISOString(),
    version: DTMA_VERSION,
    dtma_version: DTMA_VERSION,
    service: "DTMA",
    environment: {
      hasAuthToken: config.outboundToken !== null,
      hasApiKey: config.has.apiKey,
      hasApiBaseUrl: config.apiBaseUrl !== null,
      port: String(config.port),
    },
    tool_instances: instances.map(toolInstanceEntry),
    standard_tools: instances.filter((c) => c.kind === "standard_tool").map(toolInstanceEntry),
    mcp_servers: instances.filter((c) => c.kind === "mcp_server").map((c) => mcpServerEntry(c, views.get(c.name))),
    mcp_summary: mcpSummaryOf(options.mcpServers, options.oauth),
    system_metrics: systemMetricsOf(options.system),
  }
}
