import {
  ContainerEvents,
  ContainerLogs,
  ContainerRuntime,
  ControlPlane,
  CredentialDelivery,
  CredentialSource,
  defaultRenewalPolicy,
  defaultRestartPolicy,
  defaultRetryPolicy,
  makeCredentialCache,
  makeServerCredentials,
  HostMetrics,
  makeHeartbeat,
  makeInstances,
  makeMcpServers,
  McpConnector,
  type Heartbeat,
  type HeartbeatSettings,
  type Instances,
  type InstancesSettings,
  type McpServers,
  type McpServersSettings,
  type ServerCredentialsSettings,
} from "@dtma/domain"
import { FETCH_BAD_PORTS } from "@dtma/adapters"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { Container, ContainerModule } from "inversify"
import { DEFAULT_HEARTBEAT_INTERVAL_MS, type Config } from "./config.ts"
import type { Logger } from "./logger.ts"
import { bound, Tokens } from "./tokens.ts"
import { DTMA_VERSION } from "./version.ts"

/** Whether the DTMA reports to a backend: it needs both the URL and a token to present. */
export const heartbeatEnabled = (config: Config): boolean => config.apiBaseUrl !== null && config.outboundToken !== null

/** The configuration and the logger, as constants. */
export const configModule = (config: Config, logger: Logger): ContainerModule =>
  new ContainerModule(({ bind }) => {
    bind<Config>(Tokens.Config).toConstantValue(config)
    bind<Logger>(Tokens.Logger).toConstantValue(logger)
  })

export interface UseCaseSettings {
  readonly instances: InstancesSettings
  readonly heartbeat: HeartbeatSettings
  readonly mcpServers: McpServersSettings
  readonly credentials: ServerCredentialsSettings
}

/** The MCP protocol versions this DTMA speaks to servers, newest (the one it asks for) first. */
export const MCP_PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const

export const useCaseSettingsOf = (config: Config): UseCaseSettings => {
  // The resource bounds limit what a deploy may ask for; the proxy's settings go to the proxy; the rest tunes supervision.
  const {
    maxMemoryBytes,
    maxNanoCpus,
    maxPids,
    maxSessionsPerServer: _,
    maxSessions: __,
    sessionIdleTimeoutMs: ___,
    listPageSize: ____,
    isolatedIdleS,
    isolatedMax,
    serverRequestTimeoutMs: _____,
    mrtrTtlMs: ______,
    ...supervision
  } = config.mcp
  return {
    instances: {
      reservedHostPorts: [config.port],
      // The SDK connector calls network servers with fetch, which refuses these ports.
      uncallableHostPorts: FETCH_BAD_PORTS,
      stopGraceSeconds: 10,
      bounds: { maxMemoryBytes, maxNanoCpus, maxPidsLimit: maxPids },
    },
    // Retries back off from 1/30 of the interval (2 s at the default 60 s) and give up well within it.
    heartbeat: { dtmaVersion: DTMA_VERSION, retries: 4, retryBase: `${Math.round((config.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS) / 30)} millis` },
    mcpServers: {
      clientInfo: { name: "dtma", version: DTMA_VERSION },
      protocolVersion: MCP_PROTOCOL_VERSIONS[0],
      supportedProtocolVersions: MCP_PROTOCOL_VERSIONS,
      restartPolicy: defaultRestartPolicy,
      ...supervision,
      isolatedIdleMs: isolatedIdleS * 1000,
      isolatedMax,
    },
    credentials: { onExpiry: defaultRenewalPolicy, retry: defaultRetryPolicy, idleRecheckMs: 60_000 },
  }
}

/**
 * The use cases, built by their factories from whatever ports are bound. Their background work
 * (supervision, token refreshes) lives in `lifetime`: closing it stops all of it.
 */
export const useCasesModule = (settings: UseCaseSettings, lifetime: Scope.Scope): ContainerModule =>
  new ContainerModule(({ bind }) => {
    bind<Scope.Scope>(Tokens.Lifetime).toConstantValue(lifetime)
    bind<Instances>(Tokens.Instances)
      .toResolvedValue((runtime: ContainerRuntime) => makeInstances({ runtime, settings: settings.instances }), [ContainerRuntime])
      .inSingletonScope()
    bind<Heartbeat>(Tokens.Heartbeat)
      .toResolvedValue(
        (runtime: ContainerRuntime, controlPlane: ControlPlane, metrics: HostMetrics, mcpServers: McpServers) =>
          makeHeartbeat({
            runtime,
            controlPlane,
            metrics,
            mcpServers: { list: () => mcpServers.list(), oauth: (name) => mcpServers.oauth(name) },
            settings: settings.heartbeat,
          }),
        [ContainerRuntime, ControlPlane, HostMetrics, Tokens.McpServers],
      )
      .inSingletonScope()
    // Building it subscribes to container events: it is made once, on first use, in the lifetime scope.
    bind<McpServers>(Tokens.McpServers)
      .toResolvedValue(
        (
          instances: Instances,
          runtime: ContainerRuntime,
          connector: McpConnector,
          logs: ContainerLogs,
          events: ContainerEvents,
          source: CredentialSource,
          delivery: CredentialDelivery,
        ) =>
          Effect.runSync(
            makeMcpServers({
              instances,
              runtime,
              connector,
              logs,
              events,
              settings: settings.mcpServers,
              // One cache for every server: servers sharing a connection share its token and its refreshes.
              credentials: (onEnvRenewal) =>
                makeServerCredentials({ cache: makeCredentialCache({ source }), delivery, settings: settings.credentials, onEnvRenewal }),
            }).pipe(Scope.provide(lifetime)),
          ),
        [Tokens.Instances, ContainerRuntime, McpConnector, ContainerLogs, ContainerEvents, CredentialSource, CredentialDelivery],
      )
      .inSingletonScope()
  })

/**
 * The composition root: configuration, the ports from `infrastructure` (the real adapters, or the
 * fakes in tests) and the use cases over them.
 */
export const buildContainer = (options: { readonly config: Config; readonly logger: Logger; readonly infrastructure: ContainerModule }): Container => {
  const container = new Container({ defaultScope: "Singleton" })
  container.load(configModule(options.config, options.logger), options.infrastructure, useCasesModule(useCaseSettingsOf(options.config), Scope.makeUnsafe()))
  return container
}

/** Stops the use cases' background work (MCP supervision, token refreshes); containers keep running. */
export const stopUseCases = (container: Container): Promise<void> => Effect.runPromise(Scope.close(bound(container, Tokens.Lifetime), Exit.void))
