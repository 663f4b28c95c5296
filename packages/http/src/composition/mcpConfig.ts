import { DEFAULT_ISOLATED_IDLE_MS, DEFAULT_ISOLATED_MAX, type McpServersSettings } from "@dtma/domain"
import { DEFAULT_PROXY_SETTINGS } from "../mcpProxy/settings.ts"

/** The supervision settings an operator may tune through the environment (documented on the domain's type). */
export type McpSupervisionConfig = Pick<
  McpServersSettings,
  "startTimeoutMs" | "requestTimeoutMs" | "pingTimeoutMs" | "pingBaseMs" | "pingMaxMs" | "discoveryIntervalMs" | "maxInFlight" | "maxQueued" | "drainTimeoutMs"
>

/**
 * MCP supervision settings, the most memory, CPU and processes one instance may ask for in its
 * overrides, the bounds on the proxied endpoint's client sessions, and the page size of the agent endpoint's lists.
 */
export interface McpConfig extends McpSupervisionConfig {
  readonly maxMemoryBytes: number
  readonly maxNanoCpus: number
  readonly maxPids: number
  readonly maxSessionsPerServer: number
  readonly maxSessions: number
  readonly sessionIdleTimeoutMs: number
  /** How long a client may take to answer a server's sampling, elicitation or roots request about its call. */
  readonly serverRequestTimeoutMs: number
  /** How long a 2026-07-28 client's call answered `input_required` (MRTR) waits for the client's retry. */
  readonly mrtrTtlMs: number
  /** Items in one page of a list on the agent endpoint `/mcp`. */
  readonly listPageSize: number
  /** Seconds an agent's own instance of a `per_agent` server stays without a call before it is removed. */
  readonly isolatedIdleS: number
  /** The most agents' instances one `per_agent` server runs at once. */
  readonly isolatedMax: number
}

export const DEFAULT_MCP_CONFIG: McpConfig = {
  startTimeoutMs: 30_000,
  requestTimeoutMs: 60_000,
  pingTimeoutMs: 5_000,
  pingBaseMs: 5_000,
  pingMaxMs: 60_000,
  discoveryIntervalMs: 300_000,
  maxInFlight: 32,
  maxQueued: 256,
  drainTimeoutMs: 10_000,
  maxMemoryBytes: 4 * 1024 ** 3,
  maxNanoCpus: 2_000_000_000,
  maxPids: 4096,
  maxSessionsPerServer: DEFAULT_PROXY_SETTINGS.maxSessionsPerServer,
  maxSessions: DEFAULT_PROXY_SETTINGS.maxSessions,
  sessionIdleTimeoutMs: DEFAULT_PROXY_SETTINGS.idleTimeoutMs,
  serverRequestTimeoutMs: DEFAULT_PROXY_SETTINGS.serverRequestTimeoutMs,
  mrtrTtlMs: DEFAULT_PROXY_SETTINGS.mrtrTtlMs,
  listPageSize: DEFAULT_PROXY_SETTINGS.listPageSize,
  isolatedIdleS: DEFAULT_ISOLATED_IDLE_MS / 1000,
  isolatedMax: DEFAULT_ISOLATED_MAX,
}

/** The environment variable for each setting, and the smallest value it takes. */
export const MCP_ENV: { readonly [K in keyof McpConfig]: { readonly name: string; readonly min: number; readonly max?: number } } = {
  startTimeoutMs: { name: "DTMA_MCP_START_TIMEOUT_MS", min: 100 },
  requestTimeoutMs: { name: "DTMA_MCP_REQUEST_TIMEOUT_MS", min: 100 },
  pingTimeoutMs: { name: "DTMA_MCP_PING_TIMEOUT_MS", min: 100 },
  pingBaseMs: { name: "DTMA_MCP_PING_INTERVAL_MS", min: 100 },
  pingMaxMs: { name: "DTMA_MCP_PING_MAX_INTERVAL_MS", min: 100 },
  discoveryIntervalMs: { name: "DTMA_MCP_DISCOVERY_INTERVAL_MS", min: 1_000 },
  maxInFlight: { name: "DTMA_MCP_MAX_IN_FLIGHT", min: 1 },
  maxQueued: { name: "DTMA_MCP_MAX_QUEUED", min: 0 },
  drainTimeoutMs: { name: "DTMA_MCP_DRAIN_TIMEOUT_MS", min: 0 },
  maxMemoryBytes: { name: "DTMA_MAX_MEMORY_BYTES", min: 6 * 1024 * 1024, max: 2 ** 50 },
  maxNanoCpus: { name: "DTMA_MAX_NANO_CPUS", min: 10_000_000, max: 1024 * 1_000_000_000 },
  maxPids: { name: "DTMA_MAX_PIDS", min: 1, max: 4_194_304 },
  maxSessionsPerServer: { name: "DTMA_MCP_MAX_SESSIONS_PER_SERVER", min: 1, max: 1_000_000 },
  maxSessions: { name: "DTMA_MCP_MAX_SESSIONS", min: 1, max: 1_000_000 },
  sessionIdleTimeoutMs: { name: "DTMA_MCP_SESSION_IDLE_TIMEOUT_MS", min: 1_000 },
  serverRequestTimeoutMs: { name: "DTMA_MCP_SERVER_REQUEST_TIMEOUT_MS", min: 100 },
  mrtrTtlMs: { name: "DTMA_MCP_MRTR_TTL_MS", min: 100 },
  listPageSize: { name: "DTMA_MCP_LIST_PAGE_SIZE", min: 1, max: 100_000 },
  isolatedIdleS: { name: "DTMA_ISOLATED_IDLE_S", min: 1, max: 7 * 86_400 },
  isolatedMax: { name: "DTMA_ISOLATED_MAX", min: 1, max: 10_000 },
}

const MAX = 86_400_000

/**
 * The MCP settings from `get` (environment, then config file), defaults for what is unset. A value
 * that is not a whole number in range goes to `fail`, which names the setting.
 */
export const mcpConfigOf = (get: (key: string) => string | undefined, fail: (problem: string) => never): McpConfig => {
  const config: Record<string, number> = { ...DEFAULT_MCP_CONFIG }
  for (const [key, { name, min, max = MAX }] of Object.entries(MCP_ENV)) {
    const text = get(name)
    if (text === undefined) continue
    const value = Number(text)
    if (!/^\d+$/.test(text) || value < min || value > max) fail(`${name} must be a whole number between ${min} and ${max}`)
    config[key] = value
  }
  const result = config as unknown as McpConfig
  if (result.pingMaxMs < result.pingBaseMs) fail(`${MCP_ENV.pingMaxMs.name} must not be below ${MCP_ENV.pingBaseMs.name}`)
  return result
}
