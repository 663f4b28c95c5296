import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import {
  AgentAccess,
  AuditLog,
  ContainerEvents,
  ContainerLogs,
  ContainerRuntime,
  ControlPlane,
  CredentialDelivery,
  CredentialFetchFailed,
  CredentialSource,
  HostMetrics,
  McpConnector,
  token,
} from "@dtma/domain"
import {
  dockerContainerEventsFromEnv,
  dockerContainerRuntimeFromEnv,
  dockerOutputCaptureFromEnv,
  makeAgentopiaAuditShipping,
  makeAgentopiaControlPlane,
  makeAgentopiaCredentialSource,
  makeFileAuditLog,
  makeTmpfsCredentialDelivery,
  makeOsHostMetrics,
  sdkMcpConnectorFromEnv,
  standaloneControlPlane,
  type AgentopiaAuditShipping,
  type DockerOutputCapture,
  type FileAuditLog,
} from "@dtma/adapters"
import { ContainerModule } from "inversify"
import type { AuditDelivery } from "./auditTrail.ts"
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

/** The audit's two destinations: the file, and the backend copy when a backend is configured. */
interface AuditParts {
  readonly file: FileAuditLog
  readonly shipping: AgentopiaAuditShipping | null
}
const AuditParts = token<AuditParts>("dtma/AuditParts")

/** Calls `report` at most once a minute: a full disk or a backend down would otherwise warn on every attempt. */
const atMostOnceAMinute = <A>(report: (a: A) => void): ((a: A) => void) => {
  let last = Number.NEGATIVE_INFINITY
  return (a) => {
    const now = Date.now()
    if (now - last < 60_000) return
    last = now
    report(a)
  }
}

/** Both audit destinations, living in the use cases' lifetime: closing it writes what is buffered and makes a last delivery. */
const auditPartsOf = (config: Config, lifetime: Scope.Scope, logger: Logger): AuditParts => {
  const file = makeFileAuditLog({
    path: config.audit.path,
    maxBytes: config.audit.maxBytes,
    files: config.audit.files,
    onProblem: atMostOnceAMinute((problem) =>
      logger.warn({ ...problem, path: config.audit.path }, "audit file problem (records not written are counted in /metrics)"),
    ),
  })
  Effect.runSync(
    Scope.addFinalizer(
      lifetime,
      Effect.promise(() => file.flush()),
    ),
  )
  const shipping =
    config.apiBaseUrl === null || config.outboundToken === null
      ? null
      : Effect.runSync(
          makeAgentopiaAuditShipping({
            baseUrl: config.apiBaseUrl,
            token: config.outboundToken,
            timeoutMs: BACKEND_TIMEOUT_MS,
            path: config.audit.backendPath,
            onProblem: atMostOnceAMinute((problem) => logger.warn(problem, "audit records not delivered to the backend")),
          }).pipe(Scope.provide(lifetime)),
        )
  return { file, shipping }
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
    bind<AuditParts>(AuditParts)
      .toResolvedValue((lifetime: Scope.Scope, logger: Logger) => auditPartsOf(config, lifetime, logger), [Tokens.Lifetime, Tokens.Logger])
      .inSingletonScope()
    bind<AuditLog>(AuditLog)
      .toResolvedValue(
        ({ file, shipping }: AuditParts): AuditLog => ({
          record: (record) => (shipping === null ? file.record(record) : Effect.andThen(file.record(record), shipping.record(record))),
          query: (query) => file.query(query),
        }),
        [AuditParts],
      )
      .inSingletonScope()
    bind<AuditDelivery>(Tokens.AuditDelivery)
      .toResolvedValue(
        ({ file, shipping }: AuditParts): AuditDelivery => ({ stats: () => ({ logDropped: file.stats().dropped, shipping: shipping?.stats() ?? null }) }),
        [AuditParts],
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
