import type { HeartbeatReport, HostMetricsSample } from "@dtma/domain"

/** The legacy `system_metrics` / `system_status` object. */
export const systemMetricsBody = (m: HostMetricsSample) => ({
  cpu_load_percent: m.cpuLoadPercent,
  memory: { total_bytes: m.memory.totalBytes, active_bytes: m.memory.activeBytes, free_bytes: m.memory.freeBytes, used_bytes: m.memory.usedBytes },
  disk: { mount: m.disk.mount, total_bytes: m.disk.totalBytes, used_bytes: m.disk.usedBytes, free_bytes: m.disk.freeBytes },
})

/** The body of `POST {base}/heartbeat` as the backend reads it. */
export const heartbeatBody = (report: HeartbeatReport) => ({
  dtma_version: report.dtmaVersion,
  system_status: systemMetricsBody(report.system),
  tool_statuses: report.tools.map((t) => ({
    account_tool_instance_id: t.accountToolInstanceId,
    status_on_toolbox: t.statusOnToolbox,
    runtime_details: {
      container_id: t.containerId,
      image: t.image,
      started_at: t.startedAt,
      state_details: { state: t.state, instance_name: t.instanceName, kind: t.kind },
      ...(t.mcp === null ? {} : { transport: t.mcp.transport, health_status: t.mcp.health }),
      ...(t.mcp?.oauth === undefined
        ? {}
        : { oauth: t.mcp.oauth.map((o) => ({ connection_id: o.connectionId, provider: o.provider, status: o.status, expires_at: o.expiresAt })) }),
    },
  })),
})
