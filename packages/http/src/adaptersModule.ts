import { ContainerRuntime, ControlPlane, HostMetrics } from "@dtma/domain"
import { dockerContainerRuntimeFromEnv, makeAgentopiaControlPlane, makeOsHostMetrics, standaloneControlPlane } from "@dtma/adapters"
import { ContainerModule } from "inversify"
import type { Config } from "./config.ts"

/** How long a heartbeat POST may take before it counts as the backend being unreachable. */
const BACKEND_TIMEOUT_MS = 10_000

/**
 * The real adapters: Docker, the Agentopia backend (a control plane that reports nowhere when no
 * backend is configured), the host's metrics.
 */
export const adaptersModule = (config: Config): ContainerModule =>
  new ContainerModule(({ bind }) => {
    bind<ContainerRuntime>(ContainerRuntime).toDynamicValue(() => dockerContainerRuntimeFromEnv()).inSingletonScope()
    bind<ControlPlane>(ControlPlane)
      .toDynamicValue(() =>
        config.apiBaseUrl !== null && config.outboundToken !== null
          ? makeAgentopiaControlPlane({ baseUrl: config.apiBaseUrl, token: config.outboundToken, timeoutMs: BACKEND_TIMEOUT_MS })
          : standaloneControlPlane,
      )
      .inSingletonScope()
    bind<HostMetrics>(HostMetrics).toDynamicValue(() => makeOsHostMetrics()).inSingletonScope()
  })
