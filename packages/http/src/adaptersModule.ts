import { ContainerEvents, ContainerLogs, ContainerRuntime, ControlPlane, HostMetrics, McpConnector } from "@dtma/domain"
import {
  dockerContainerEventsFromEnv,
  dockerContainerLogsFromEnv,
  dockerContainerRuntimeFromEnv,
  makeAgentopiaControlPlane,
  makeOsHostMetrics,
  sdkMcpConnectorFromEnv,
  standaloneControlPlane,
} from "@dtma/adapters"
import { ContainerModule } from "inversify"
import type { Config } from "./config.ts"
import type { Logger } from "./logger.ts"
import { Tokens } from "./tokens.ts"

/** How long a heartbeat POST may take before it counts as the backend being unreachable. */
const BACKEND_TIMEOUT_MS = 10_000

// Name and message only: a transport error's other fields may hold what the server sent.
const described = (error: unknown) => (error instanceof Error ? { name: error.name, message: error.message } : { message: String(error) })

/**
 * The real adapters: Docker (containers, their logs and events), MCP over the SDK's client
 * transports, the Agentopia backend (a control plane that reports nowhere when no backend is
 * configured), the host's metrics. Nothing connects until first used.
 */
export const adaptersModule = (config: Config): ContainerModule =>
  new ContainerModule(({ bind }) => {
    bind<ContainerRuntime>(ContainerRuntime).toDynamicValue(() => dockerContainerRuntimeFromEnv({ scope: config.scope })).inSingletonScope()
    bind<ControlPlane>(ControlPlane)
      .toDynamicValue(() =>
        config.apiBaseUrl !== null && config.outboundToken !== null
          ? makeAgentopiaControlPlane({ baseUrl: config.apiBaseUrl, token: config.outboundToken, timeoutMs: BACKEND_TIMEOUT_MS })
          : standaloneControlPlane,
      )
      .inSingletonScope()
    bind<HostMetrics>(HostMetrics).toDynamicValue(() => makeOsHostMetrics()).inSingletonScope()
    bind<McpConnector>(McpConnector)
      .toResolvedValue(
        (logger: Logger) =>
          sdkMcpConnectorFromEnv({
            onTransportError: (target, error) => logger.warn({ containerId: target.containerId, transport: target.transport, error: described(error) }, "MCP transport error"),
          }),
        [Tokens.Logger],
      )
      .inSingletonScope()
    bind<ContainerLogs>(ContainerLogs).toDynamicValue(() => dockerContainerLogsFromEnv()).inSingletonScope()
    bind<ContainerEvents>(ContainerEvents)
      .toResolvedValue(
        (logger: Logger) => dockerContainerEventsFromEnv({ scope: config.scope, onError: (error) => logger.warn({ error: described(error) }, "container event feed problem") }),
        [Tokens.Logger],
      )
      .inSingletonScope()
  })
