import type { RestartPolicy } from "../mcp/restartPolicy.ts"

export interface McpServersSettings {
  readonly clientInfo: { readonly name: string; readonly version: string }
  readonly protocolVersion: string
  readonly supportedProtocolVersions: ReadonlyArray<string>
  /** Deploy and restart: from container start to initialized and listed. */
  readonly startTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly pingTimeoutMs: number
  /** Health ping pace while a server is new or shaky; it grows to `pingMaxMs` once stable. */
  readonly pingBaseMs: number
  readonly pingMaxMs: number
  readonly discoveryIntervalMs: number
  readonly restartPolicy: RestartPolicy
  /** Requests one server may have in flight; beyond, up to `maxQueued` wait, the rest are refused. */
  readonly maxInFlight: number
  readonly maxQueued: number
  /** How long removal waits for in-flight calls to finish. */
  readonly drainTimeoutMs: number
  /** How long an agent's instance of a `per_agent` server stays without a call before it is removed; default 15 minutes. */
  readonly isolatedIdleMs?: number | undefined
  /** The most agents' instances one `per_agent` server runs at once; default 20. */
  readonly isolatedMax?: number | undefined
}

export const DEFAULT_ISOLATED_IDLE_MS = 15 * 60_000
export const DEFAULT_ISOLATED_MAX = 20
