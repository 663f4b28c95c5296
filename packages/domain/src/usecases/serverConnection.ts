import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ManagedContainer, McpTransport } from "../ManagedInstance.ts"
import { discover, type CapabilitySnapshot } from "../mcp/discovery.ts"
import { McpServerNotReady } from "../mcp/mcpErrors.ts"
import { openUpstreamSession, type UpstreamSession } from "../mcp/UpstreamSession.ts"
import type { McpConnector, McpEndpoint } from "../ports/McpConnector.ts"
import type { McpServersSettings } from "./mcpServersSettings.ts"

const DEFAULT_PATHS: Readonly<Record<McpTransport, string>> = { sse: "/sse", websocket: "/", streamable_http: "/mcp", stdio: "" }

/** The container port a network server listens on when its deploy names none. */
export const DEFAULT_MCP_PORT = 8080

/** Where the DTMA reaches a running network server: the host port its MCP port is published on, and its path. */
export const endpointOf = (c: ManagedContainer): McpEndpoint | null => {
  const mcp = c.mcp
  if (mcp === null || mcp.transport === "stdio") return null
  const containerPort = mcp.port ?? DEFAULT_MCP_PORT
  const hostPort = c.ports.find((p) => p.containerPort === containerPort)?.hostPort
  if (hostPort == null) return null
  const path = mcp.endpointPath ?? DEFAULT_PATHS[mcp.transport]
  return { hostPort, path: path.startsWith("/") ? path : `/${path}` }
}

/** A connection to a server's container, initialized and listed. */
export interface ServerConnection {
  readonly container: ManagedContainer
  readonly session: UpstreamSession
  readonly snapshot: CapabilitySnapshot
}

export const nowIso = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms).toISOString()))

/**
 * Connects to a server's container as the runtime last reported it (running: its ports are the
 * ones it was started with), initializes and lists, within the start timeout. The session lives in
 * the ambient scope; on failure it is closed and nothing is left.
 */
export const openConnection = (
  deps: { readonly connector: McpConnector; readonly settings: McpServersSettings },
  container: ManagedContainer,
): Effect.Effect<ServerConnection, McpServerNotReady, Scope.Scope> => {
  const { connector, settings } = deps
  const { name, containerId } = container
  const notReady = (detail: string) => new McpServerNotReady({ name, detail, stderrTail: [] })
  return Effect.gen(function* () {
    const transport = container.mcp?.transport ?? "stdio"
    const endpoint = endpointOf(container)
    if (transport !== "stdio" && endpoint === null) return yield* notReady(`container port ${container.mcp?.port ?? DEFAULT_MCP_PORT} is not published`)
    const channel = yield* connector
      .connect({ transport, containerId, endpoint }, { timeoutMs: settings.startTimeoutMs })
      .pipe(Effect.mapError((e) => notReady(e.message)))
    const session = yield* openUpstreamSession(channel, {
      name,
      clientInfo: settings.clientInfo,
      protocolVersion: settings.protocolVersion,
      supportedProtocolVersions: settings.supportedProtocolVersions,
      initializeTimeoutMs: settings.startTimeoutMs,
      // A server that refused initialize is probed for 2026-07-28 no longer than a health check waits.
      probeTimeoutMs: Math.min(settings.pingTimeoutMs, settings.startTimeoutMs),
      maxInFlight: settings.maxInFlight,
      maxQueued: settings.maxQueued,
    }).pipe(Effect.mapError((e) => notReady(e.message)))
    const snapshot = yield* discover(session, { timeoutMs: settings.requestTimeoutMs, now: yield* nowIso }).pipe(
      Effect.mapError((e) => notReady(`listing capabilities failed: ${e.message}`)),
      Effect.onError(() => session.close()),
    )
    return { container, session, snapshot }
  }).pipe(Effect.timeoutOrElse({ duration: settings.startTimeoutMs * 2, orElse: () => Effect.fail(notReady("start timed out")) }))
}
