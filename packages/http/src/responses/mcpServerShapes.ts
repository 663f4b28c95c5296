import { contentHash, type CapabilitySnapshot, type HealthStatus, type McpServerView, type McpTransport, type OAuthConnectionView } from "@dtma/domain"

/** A connection as discovery and the heartbeat show it: a state and an expiry, never a token. */
export const oauthEntryOf = ({ connectionId, provider, status, expiresAt }: OAuthConnectionView) => ({ connectionId, provider, status, expiresAt })

/** The proxied endpoint of a server, as a caller reaching the DTMA at `origin` sees it. */
export const endpointUrlOf = (origin: string, name: string): string => `${origin}/mcp-servers/${encodeURIComponent(name)}/mcp`

const countsOf = (s: CapabilitySnapshot | null) => ({ tools: s?.tools.length ?? 0, resources: s?.resources.length ?? 0, prompts: s?.prompts.length ?? 0 })

/** How a server gets its OAuth tokens, never a token; `null` for a server without OAuth. */
const credentialsOf = (v: McpServerView) =>
  v.oauth === null
    ? null
    : {
        injectionMethod: v.oauth.method,
        refreshStrategy: v.oauth.refreshStrategy,
        refreshIntervalSeconds: v.oauth.refreshIntervalSeconds,
        // env_vars tokens sit in Docker's own container records, on disk: the one method that persists.
        persistedByDocker: v.oauth.method === "env_vars",
      }

const basicsOf = (v: McpServerView, origin: string) => ({
  instanceName: v.instanceName,
  accountToolInstanceId: v.accountToolInstanceId,
  containerId: v.containerId,
  transportType: v.transportType,
  endpointUrl: endpointUrlOf(origin, v.instanceName),
  healthStatus: v.healthStatus,
  capabilities: countsOf(v.capabilities),
})

/** `data` of a deploy's 201: the server, and how its tokens are delivered (as `GET` says it). */
export const deployedData = (v: McpServerView, origin: string) => ({ ...basicsOf(v, origin), credentials: credentialsOf(v) })

/** One entry of `GET /mcp-servers`. */
export const summaryOf = (v: McpServerView, origin: string) => ({
  ...basicsOf(v, origin),
  image: v.image,
  containerState: v.containerState,
  lastHealthCheck: v.lastHealthCheck,
  restartCount: v.restartCount,
  isolation: v.isolation,
  instances: v.instances.length,
})

/** `GET /mcp-servers/:name`: everything the DTMA tracks about one server, never a secret. */
export const detailOf = (v: McpServerView, origin: string, oauth: ReadonlyArray<OAuthConnectionView> = []) => ({
  instanceName: v.instanceName,
  accountToolInstanceId: v.accountToolInstanceId,
  endpointUrl: endpointUrlOf(origin, v.instanceName),
  transport: { type: v.transportType, endpointPath: v.endpointPath, port: v.port },
  container: { id: v.containerId, image: v.image, state: v.containerState },
  healthStatus: v.healthStatus,
  lastHealthCheck: v.lastHealthCheck,
  pingLatencyMs: v.pingLatencyMs,
  healthHistory: v.healthHistory,
  restartCount: v.restartCount,
  lastError: v.lastError,
  capabilities:
    v.capabilities === null
      ? null
      : {
          protocolVersion: v.capabilities.protocolVersion,
          serverInfo: v.capabilities.serverInfo,
          counts: { ...countsOf(v.capabilities), resourceTemplates: v.capabilities.resourceTemplates.length },
          hash: v.capabilities.hash,
          fetchedAt: v.capabilities.fetchedAt,
        },
  oauth,
  credentials: credentialsOf(v),
  isolation: v.isolation,
  // A per_agent server's agents' own instances (the fields above are its base instance's).
  instances: v.instances,
})

/** One server of `GET /mcp-servers/discovery`: the full capability snapshot, as last fetched. */
export const discoveryEntryOf = (v: McpServerView, origin: string, oauth: ReadonlyArray<OAuthConnectionView> = []) => ({
  instanceId: v.accountToolInstanceId,
  instanceName: v.instanceName,
  endpointUrl: endpointUrlOf(origin, v.instanceName),
  transportType: v.transportType,
  healthStatus: v.healthStatus,
  lastHealthCheck: v.lastHealthCheck,
  capabilities: v.capabilities,
  oauth: oauth.map(oauthEntryOf),
})

/** What a discovery tag is computed from, of each server. */
export type DiscoveryTagSource = Pick<McpServerView, "instanceName" | "accountToolInstanceId" | "transportType" | "healthStatus"> & {
  readonly capabilities: { readonly hash: string } | null
}

const discoveryTagInputOf = (views: ReadonlyArray<DiscoveryTagSource>, origin: string, oauth: ReadonlyMap<string, ReadonlyArray<OAuthConnectionView>>) => ({
  origin,
  servers: views.map((v) => [
    v.instanceName,
    v.accountToolInstanceId,
    v.transportType,
    v.healthStatus,
    v.capabilities?.hash ?? null,
    (oauth.get(v.instanceName) ?? []).map(oauthEntryOf),
  ]),
})

/**
 * A weak entity tag for a discovery answer: it changes when a server comes or goes, changes health
 * or offers something else (or the caller reaches the DTMA under another address); timestamps alone
 * do not change it.
 */
export const discoveryTagOf = (
  views: ReadonlyArray<DiscoveryTagSource>,
  origin: string,
  oauth: ReadonlyMap<string, ReadonlyArray<OAuthConnectionView>> = new Map(),
): string => `W/"${contentHash(discoveryTagInputOf(views, origin, oauth))}"`

/** The OAuth connections of a fleet with no OAuth server: one map, so that a tag can tell them unchanged. */
export const NO_OAUTH: ReadonlyMap<string, ReadonlyArray<OAuthConnectionView>> = new Map()

/**
 * `discoveryTagOf`, hashed again only when what it hashes differs from the last call's. The hash
 * (FNV-1a in BigInt, byte by byte) took about a millisecond at 50 servers, on every poll; the
 * comparison is one native `JSON.stringify` (equal text, equal values: every field is a string or null),
 * skipped too when called with the very arrays and map of the last call (views and OAuth states are
 * never changed in place: a change is a new array).
 */
export const makeDiscoveryTags = (hash: (value: unknown) => string = contentHash) => {
  let last: {
    readonly views: ReadonlyArray<DiscoveryTagSource>
    readonly origin: string
    readonly oauth: ReadonlyMap<string, ReadonlyArray<OAuthConnectionView>>
    readonly key: string
    readonly tag: string
  } | null = null
  return (views: ReadonlyArray<DiscoveryTagSource>, origin: string, oauth: ReadonlyMap<string, ReadonlyArray<OAuthConnectionView>> = NO_OAUTH): string => {
    if (last !== null && last.views === views && last.origin === origin && last.oauth === oauth) return last.tag
    const input = discoveryTagInputOf(views, origin, oauth)
    const key = JSON.stringify(input)
    last = { views, origin, oauth, key, tag: last === null || last.key !== key ? `W/"${hash(input)}"` : last.tag }
    return last.tag
  }
}

/** Whether an `If-None-Match` header names `tag` (weak comparison, `*` included). */
export const ifNoneMatchHits = (header: string, tag: string): boolean => {
  const opaque = (t: string) => t.trim().replace(/^W\//, "")
  return header.split(",").some((candidate) => candidate.trim() === "*" || opaque(candidate) === opaque(tag))
}

const HEALTHS: ReadonlyArray<HealthStatus> = ["starting", "healthy", "degraded", "unhealthy", "stopping", "stopped"]
const TRANSPORTS: ReadonlyArray<McpTransport> = ["stdio", "sse", "websocket", "streamable_http"]

const tally = <K extends string>(keys: ReadonlyArray<K>, values: ReadonlyArray<K>): Record<K, number> =>
  Object.fromEntries(keys.map((k) => [k, values.filter((v) => v === k).length])) as Record<K, number>

const FAILED: ReadonlyArray<OAuthConnectionView["status"]> = ["refresh_failed", "expired", "reauthorization_required", "missing"]

/** `mcp_summary` of `/status`; OAuth counts connections of every server (`refreshing` ones count as valid). */
export const mcpSummaryOf = (views: ReadonlyArray<McpServerView>, oauth: ReadonlyArray<OAuthConnectionView> = []) => ({
  total: views.length,
  byHealth: tally(
    HEALTHS,
    views.map((v) => v.healthStatus),
  ),
  byTransport: tally(
    TRANSPORTS,
    views.map((v) => v.transportType),
  ),
  oauth: {
    valid: oauth.filter((o) => o.status === "valid" || o.status === "refreshing").length,
    expiring: oauth.filter((o) => o.status === "expiring").length,
    failed: oauth.filter((o) => FAILED.includes(o.status)).length,
  },
})
