export { InMemoryContainerRuntime } from "./fakes/InMemoryContainerRuntime.ts"
export type { InMemoryContainerRuntimeOptions } from "./fakes/InMemoryContainerRuntime.ts"
export { RecordingControlPlane } from "./fakes/RecordingControlPlane.ts"
export type { ControlPlaneFault } from "./fakes/RecordingControlPlane.ts"
export { controlPlaneContract } from "./contracts/controlPlaneContract.ts"
export type { BackendFault, ControlPlaneSubject } from "./contracts/controlPlaneContract.ts"
export { arbHeartbeatReport, arbHostMetricsSample } from "./arbHeartbeatReport.ts"
export { FixedHostMetrics, fixedSample } from "./fakes/FixedHostMetrics.ts"
export { hostMetricsContract } from "./contracts/hostMetricsContract.ts"
export type { HostMetricsSubject } from "./contracts/hostMetricsContract.ts"
export { containerRuntimeContract } from "./contracts/containerRuntimeContract.ts"
export type { ContainerRuntimeSubject } from "./contracts/containerRuntimeContract.ts"
export {
  arbDeployRequest,
  arbInstanceName,
  arbLifecycleEvent,
  arbLifecycleState,
  arbMultiLineSecret,
  arbUserSpelling,
  arbUserSpellingParts,
  lifecycleStates,
} from "./arbitraries.ts"
export type { UserPartMeaning, UserSpelling } from "./arbitraries.ts"
export { failureOf, run } from "./effects.ts"
export { settle, virtualTime } from "./virtualTime.ts"
export type { VirtualTime } from "./virtualTime.ts"
export { fakeAgentAccess, fakesModule } from "./fakesModule.ts"
export type { FakeAgentAccess, Fakes } from "./fakesModule.ts"
export { InMemoryContainerLogs } from "./fakes/InMemoryContainerLogs.ts"
export { containerLogsContract } from "./contracts/containerLogsContract.ts"
export type { ContainerLogsSubject } from "./contracts/containerLogsContract.ts"
export { InMemoryContainerEvents } from "./fakes/InMemoryContainerEvents.ts"
export { containerEventsContract } from "./contracts/containerEventsContract.ts"
export type { ContainerBehaviour, ContainerEventsSubject } from "./contracts/containerEventsContract.ts"
export { InMemoryMcpConnector, echoMcpServer } from "./fakes/InMemoryMcpConnector.ts"
export type { McpServerFactory, ServesMcp } from "./fakes/InMemoryMcpConnector.ts"
export { ModernMcpServer } from "./fakes/modernMcpServer.ts"
export type { ModernReceived } from "./fakes/modernMcpServer.ts"
export { notesMcpServer, notesMcpServerWith } from "./fakes/notesMcpServer.ts"
export { mcpConnectorContract } from "./contracts/mcpConnectorContract.ts"
export type { McpConnectorSubject } from "./contracts/mcpConnectorContract.ts"
export { InMemoryCredentialSource } from "./fakes/InMemoryCredentialSource.ts"
export type { InMemoryCredentialSourceOptions } from "./fakes/InMemoryCredentialSource.ts"
export { credentialSourceContract } from "./contracts/credentialSourceContract.ts"
export type { CredentialSourceSubject } from "./contracts/credentialSourceContract.ts"
export { InMemoryCredentialDelivery } from "./fakes/InMemoryCredentialDelivery.ts"
export type { InMemoryCredentialDeliveryOptions } from "./fakes/InMemoryCredentialDelivery.ts"
export { credentialDeliveryContract } from "./contracts/credentialDeliveryContract.ts"
export type { CredentialDeliverySubject } from "./contracts/credentialDeliveryContract.ts"
export type { DeliveredView, SocketReply } from "./DeliveredView.ts"
export {
  arbAccountToolInstanceId,
  arbGrantClaim,
  arbGrants,
  arbGrantsClaim,
  arbItemName,
  arbPattern,
  arbScopeExpressibleClaim,
  arbServerName,
  arbServerRef,
} from "./arbGrants.ts"
export { InMemoryRevocationStore } from "./fakes/InMemoryRevocationStore.ts"
export { revocationStoreContract } from "./contracts/revocationStoreContract.ts"
export type { RevocationStoreSubject } from "./contracts/revocationStoreContract.ts"
export { InMemoryAccessTokens } from "./fakes/InMemoryAccessTokens.ts"
export type { InMemoryAccessTokensOptions, MintRequest } from "./fakes/InMemoryAccessTokens.ts"
export { InMemoryAgentTokenIssuer } from "./fakes/InMemoryAgentTokenIssuer.ts"
export type { InMemoryAgentTokenIssuerOptions } from "./fakes/InMemoryAgentTokenIssuer.ts"
export { accessTokensContract } from "./contracts/accessTokensContract.ts"
export type { AccessTokensSubject } from "./contracts/accessTokensContract.ts"
export { agentTokenIssuerContract } from "./contracts/agentTokenIssuerContract.ts"
export type { AgentTokenIssuerSubject } from "./contracts/agentTokenIssuerContract.ts"
export { arbAuditCaller, arbAuditRecord, arbAuditRecordInput, arbAuditRecords, arbSecretLike } from "./arbAudit.ts"
export { InMemoryAuditLog } from "./fakes/InMemoryAuditLog.ts"
export { auditLogContract } from "./contracts/auditLogContract.ts"
export type { AuditLogSubject } from "./contracts/auditLogContract.ts"
