import * as Effect from "effect/Effect"
import {
  AgentAccess,
  ContainerEvents,
  ContainerLogs,
  ContainerRuntime,
  ControlPlane,
  CredentialDelivery,
  CredentialFetchFailed,
  CredentialSource,
  HostMetrics,
  McpConnector,
} from "@dtma/domain"
import {
  dockerContainerEventsFromEnv,
  dockerContainerRuntimeFromEnv,
  dockerOutputCaptureFromEnv,
  makeAgentopiaControlPlane,
  makeAgentopiaCredentialSource,
  makeTmpfsCredentialDelivery,
  makeOsHostMetrics,
  sdkMcpConnectorFromEnv,
  standaloneControlPlane,
  type DockerOutputCapture,
} from "@dtma/adapters"
import { ContainerModule } from "inversify"
import type { Config } from "./config.ts"
import type { Logger } from "./logger.ts"
import { Tokens } from "./tokens.ts"

/** How long a heartbeat POST may take before it counts as the backend being unreachable. */
const BACKEND_TIMEOUT_MS = 10_000

// Name and message only: a transport error's other fields may hold what the server sent.
const described = (error: unknown) => (error instanceof Error ? { name: error.name, message: error.message } : { message: String(error) })

/** A DTMA without a backend has nobody to ask for tokens: servers asking for OAuth connections are refused, saying why. */
const noBackend = (): CredentialFetchFailed =>
  new CredentialFetchFailed({
    reason: "unavailable",
    connectionId: null,
    detail: "this DTMA has no backend configured (AGENTOPIA_API_BASE_URL and DTMA_BEARER_TOKEN)",
  })
const standaloneCredentialSource: CredentialSource = {
  fetchOAuth: () => Effect.fail(noBackend()),
  fetchToolSecrets: () => Effect.fail(noBackend()),
}

/**
 * The real adapters: Docker (containers, their output and events), MCP over the SDK's client
 * transports, the Agentopia backend (a control plane that reports nowhere when no backend is
 * configured), the host's metrics. Nothing connects until first used.
 */
export const adaptersModule = (config: Config, agentAccess: AgentAccess): ContainerModule =>
  new ContainerModule(({ bind }) => {
    // Built before the container (its key and revocation files are read at start): a constant here.
    bind<AgentAccess>(AgentAccess).toConstantValue(agentAccess)
    bind<DockerOutputCapture>(Tokens.OutputCapture)
      .toResolvedValue(
        (logger: Logger) =>
          dockerOutputCaptureFromEnv({
            onError: (containerId, error) => logger.warn({ containerId, error: described(error) }, "cannot follow a container's output"),
          }),
        [Tokens.Logger],
      )
      .inSingletonScope()
    // The container events keep the runtime's inventory current: a list inspects only what changed.
    bind<ContainerRuntime>(ContainerRuntime)
      .toResolvedValue(
        (output: DockerOutputCapture, events: ContainerEvents) => dockerContainerRuntimeFromEnv({ scope: config.scope, output, events }),
        [Tokens.OutputCapture, ContainerEvents],
      )
      .inSingletonScope()
    bind<ControlPlane>(ControlPlane)
      .toDynamicValue(() =>
        config.apiBaseUrl !== null && config.outboundToken !== null
          ? makeAgentopiaControlPlane({ baseUrl: config.apiBaseUrl, token: config.outboundToken, timeoutMs: BACKEND_TIMEOUT_MS })
          : standaloneControlPlane,
      )
      .inSingletonScope()
    bind<HostMetrics>(HostMetrics)
      .toDynamicValue(() => makeOsHostMetrics())
      .inSingletonScope()
    bind<McpConnector>(McpConnector)
      .toResolvedValue(
        (logger: Logger) =>
          sdkMcpConnectorFromEnv({
            onTransportProblem: (target, { kind, detail, first }) => {
              const fields = { containerId: target.containerId, transport: target.transport, kind, detail }
              // A repeat of a kind already warned about on this connection is noise at info level.
              if (first) logger.warn(fields, "MCP transport error")
              else logger.debug(fields, "MCP transport error")
            },
          }),
        [Tokens.Logger],
      )
      .inSingletonScope()
    bind<ContainerLogs>(ContainerLogs)
      .toResolvedValue((output: DockerOutputCapture) => output.logs, [Tokens.OutputCapture])
      .inSingletonScope()
    bind<ContainerEvents>(ContainerEvents)
      .toResolvedValue(
        (logger: Logger) =>
          dockerContainerEventsFromEnv({ scope: config.scope, onError: (error) => logger.warn({ error: described(error) }, "container event feed problem") }),
        [Tokens.Logger],
      )
      .inSingletonScope()
    bind<CredentialSource>(CredentialSource)
      .toDynamicValue(() =>
        config.apiBaseUrl !== null && config.outboundToken !== null
          ? makeAgentopiaCredentialSource({
              baseUrl: config.apiBaseUrl,
              token: config.outboundToken,
              timeoutMs: BACKEND_TIMEOUT_MS,
              oauthPath: config.credentials.oauthPath,
              retries: 3,
              retryBaseMs: 500,
            })
          : standaloneCredentialSource,
      )
      .inSingletonScope()
    bind<CredentialDelivery>(CredentialDelivery)
      .toResolvedValue(
        (logger: Logger) =>
          makeTmpfsCredentialDelivery({
            root: config.credentials.root,
            allowDisk: config.credentials.allowDisk,
            onError: (problem) => logger.warn({ instance: problem.name, detail: problem.detail }, "credential delivery problem"),
          }),
        [Tokens.Logger],
      )
      .inSingletonScope()
  })
