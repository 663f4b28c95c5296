export {
  ContainerNameConflict,
  ContainerNotFound,
  ControlPlaneRejected,
  ControlPlaneUnavailable,
  HostPortUnavailable,
  ImageUnavailable,
  InstanceAlreadyExists,
  InstanceNotFound,
  InvalidInstanceSpec,
  McpGroupExists,
  McpGroupNotFound,
  NameTakenByUnmanagedContainer,
  NoOAuthConnections,
  PortConflict,
  RuntimeOperationFailed,
  RuntimeUnavailable,
} from "./errors.ts"
export type { ImageProblem, PortHolder, RuntimeOperation, SpecField } from "./errors.ts"
export type {
  ContainerOverrides,
  DeployRecipe,
  ContainerState,
  EnvVar,
  InstanceKind,
  InstanceSpec,
  IsolatedFor,
  Isolation,
  ManagedContainer,
  McpSettings,
  McpTransport,
  OAuthBinding,
  PortRequest,
  PublishedPort,
  PullPolicy,
  RefreshStrategy,
} from "./ManagedInstance.ts"
export { instanceNameProblem, isolatedInstanceName, validateInstanceName } from "./instanceName.ts"
export { IllegalTransition, lifecycleOf, toolboxStatusOf, transition } from "./lifecycle.ts"
export type { LifecycleEvent, LifecycleEventTag, LifecycleState, ToolboxStatus } from "./lifecycle.ts"
export { makeKeyedLock } from "./keyedLock.ts"
export type { KeyedLock } from "./keyedLock.ts"
export { ContainerRuntime } from "./ports/ContainerRuntime.ts"
export type { CreateOptions, RuntimeFailure } from "./ports/ContainerRuntime.ts"
export { ControlPlane } from "./ports/ControlPlane.ts"
export type { HeartbeatReport, ToolStatusReport } from "./ports/ControlPlane.ts"
export { HostMetrics } from "./ports/HostMetrics.ts"
export type { HostMetricsSample } from "./ports/HostMetrics.ts"
export { buildInstanceSpec, checkOverrides, DEFAULT_RESOURCE_BOUNDS, recipeOf } from "./usecases/deployRequest.ts"
export type { DeployRequest, DeployRules, ResourceBounds } from "./usecases/deployRequest.ts"
export { formatContainerUser, MAX_ID, mcpServerUser, parseContainerUser, rootProblemOf } from "./containerUser.ts"
export type { ContainerUser, IdOrName } from "./containerUser.ts"
export { TMPFS_OPTIONS_SUPPORTED, tmpfsProblemOf } from "./tmpfsMount.ts"
export { makeInstances } from "./usecases/Instances.ts"
export type { DeployError, Instances, InstancesSettings, ManageError, ReconcileReport, StartError, StartOutcome } from "./usecases/Instances.ts"
export { makeHeartbeat, toolStatusOf } from "./usecases/Heartbeat.ts"
export type { Heartbeat, HeartbeatSettings, McpHealthSource } from "./usecases/Heartbeat.ts"
export { ContainerLogs } from "./ports/ContainerLogs.ts"
export type { LogLine } from "./ports/ContainerLogs.ts"
export { ContainerEvents } from "./ports/ContainerEvents.ts"
export type { ContainerEvent, ContainerEventKind, EventSubscription } from "./ports/ContainerEvents.ts"
export { McpConnector } from "./ports/McpConnector.ts"
export type { McpChannel, McpEndpoint, McpTarget, MessageContext } from "./ports/McpConnector.ts"
export { McpConnectFailed, McpRequestFailed, McpServerBusy } from "./mcp/mcpErrors.ts"
export type { ConnectProblem } from "./mcp/mcpErrors.ts"
export { ErrorCodes, isJsonRpcMessage, isNotification, isRequest, isResponse } from "./mcp/jsonrpc.ts"
export type {
  JsonRpcErrorObject,
  JsonRpcFailure,
  JsonRpcId,
  JsonRpcMessage,
  JsonRpcNotification,
  JsonRpcRequest,
  JsonRpcResponse,
  JsonRpcSuccess,
} from "./mcp/jsonrpc.ts"
export { IsolatedInstanceLimit, McpServerNotReady, McpServerUnavailable } from "./mcp/mcpErrors.ts"
export { JsonRpcIdRewriter } from "./mcp/JsonRpcIdRewriter.ts"
export type { ProgressToken, Waiter } from "./mcp/JsonRpcIdRewriter.ts"
export { openUpstreamSession, RELAYED_CLIENT_CAPABILITIES } from "./mcp/UpstreamSession.ts"
export { hasEnvelope, isModernHello, MODERN_PROTOCOL_VERSION, withEnvelope } from "./mcp/modernUpstream.ts"
export type {
  RequestOptions,
  ServerHello,
  ServerRequest,
  ServerRequestAnswer,
  ServerRequestRelay,
  UpstreamOptions,
  UpstreamSession,
} from "./mcp/UpstreamSession.ts"
export { contentHash, discover, listsChangedBy } from "./mcp/discovery.ts"
export type { CapabilitySnapshot, ListKind } from "./mcp/discovery.ts"
export { connectionOf, firstStep, healthOf, step, UNHEALTHY_AFTER_FAILED_PINGS } from "./mcp/serverStateMachine.ts"
export type {
  HealthRecord,
  HealthStatus,
  ServerCommand,
  ServerEvent,
  ServerState,
  StartReason,
  Step,
  StepInput,
  StepSettings,
  SupervisedServer,
} from "./mcp/serverStateMachine.ts"
export { listingChanged, listingOf } from "./mcp/serverListing.ts"
export type { ServerListing } from "./mcp/serverListing.ts"
export { decideRestart, defaultRestartPolicy, nextPingDelay, recentCrashes } from "./mcp/restartPolicy.ts"
export type { RestartDecision, RestartPolicy } from "./mcp/restartPolicy.ts"
export { viewOf } from "./mcp/McpServerView.ts"
export type { Sha256 } from "./mcp/aggregateNames.ts"
export { LISTED_NAME, listedNames, MAX_LISTED_NAME_LENGTH, mayKeepUri, unwrapUri, uriSegmentOf, wrappedUriOf } from "./mcp/aggregateNames.ts"
export { aggregateCatalog, routeResource, UnroutableResource } from "./mcp/aggregateCatalog.ts"
export type { AggregateCatalog, GrantedServer, ItemRoute, ResourceRoute, ResourceServer, ServerOffer } from "./mcp/aggregateCatalog.ts"
export { InvalidCursor, pageOf } from "./mcp/listPage.ts"
export type { ListPage } from "./mcp/listPage.ts"
export type { IsolatedInstanceView, McpServerView } from "./mcp/McpServerView.ts"
export { DEFAULT_MCP_PORT, endpointOf } from "./usecases/serverConnection.ts"
export { makeMcpServers, sameImage } from "./usecases/McpServers.ts"
export type { McpServerGone, McpServers, McpServersDeps, Started } from "./usecases/McpServers.ts"
export type { McpServersSettings } from "./usecases/mcpServersSettings.ts"
export { DEFAULT_ISOLATED_IDLE_MS, DEFAULT_ISOLATED_MAX } from "./usecases/mcpServersSettings.ts"
export { MASK, maskerOf, maskSecrets, secretFragmentsOf, secretValuesOf, SHORTEST_SECRET } from "./redaction.ts"
export { CredentialFetchFailed, CredentialSource } from "./ports/CredentialSource.ts"
export type { CredentialProblem, CredentialRequest, OAuthCredential } from "./ports/CredentialSource.ts"
export { credentialOf, leaseOf, leaseTransition } from "./credentials/lease.ts"
export type { CredentialLease, LeaseEvent, LeaseState } from "./credentials/lease.ts"
export { defaultRenewalPolicy, defaultRetryPolicy, EXPIRING_WITHIN_MS, nextRefreshAt, retryDelay, stateAt } from "./credentials/renewalPolicy.ts"
export type { RenewalPolicy, RetryPolicy } from "./credentials/renewalPolicy.ts"
export { makeCredentialCache } from "./credentials/CredentialCache.ts"
export type { CredentialCache, RenewalListener } from "./credentials/CredentialCache.ts"
export { CredentialDelivery, CredentialDeliveryFailed } from "./ports/CredentialDelivery.ts"
export type { ContainerOwner, DeliveryMount, DeliveryProblem, InjectionMethod, LiveInjectionMethod } from "./ports/CredentialDelivery.ts"
export {
  CONVENTIONAL_ENV_NAMES,
  envPrefixOf,
  isSafeSegment,
  SECRETS_DIR,
  secretFilesOf,
  SOCKET_DIR,
  SOCKET_PATH,
  socketDocumentOf,
  socketEnv,
  tokenDocumentOf,
  tokenEnvOf,
  tokenFileEnvOf,
} from "./credentials/layout.ts"
export { makeServerCredentials, viewOfLease } from "./usecases/ServerCredentials.ts"
export type {
  CredentialHolder,
  EnvRenewal,
  OAuthConnectionView,
  PreparedCredentials,
  ServerCredentials,
  ServerCredentialsDeps,
  ServerCredentialsSettings,
} from "./usecases/ServerCredentials.ts"
export type { CredentialError } from "./usecases/mcpCredentials.ts"
export { checkOAuthBinding, MIN_REFRESH_INTERVAL_SECONDS } from "./usecases/deployRequest.ts"
export { ownerOf } from "./usecases/containerOwner.ts"
export { withToolSecrets } from "./usecases/toolSecrets.ts"
export {
  accessTo,
  fullGrant,
  mayUsePrompt,
  mayUseResource,
  mayUseServer,
  mayUseTool,
  namesServer,
  patternMatches,
  ruleAllows,
  visiblePrompts,
  visibleResources,
  visibleTools,
  WILDCARD,
} from "./access/grants.ts"
export type { Grant, Grants, GrantTarget, NameRule, ServerAccess, ServerRef } from "./access/grants.ts"
export {
  claimOfGrants,
  InvalidGrants,
  MAX_GRANTS,
  MAX_PATTERN_LENGTH,
  MAX_PATTERNS,
  MAX_SERVER_NAME_LENGTH,
  parseGrantsClaim,
  serverNameProblem,
} from "./access/grantsClaim.ts"
export type { GrantClaim } from "./access/grantsClaim.ts"
export { parseGrantsScope, scopeOfGrants, SERVER_SCOPE, TOOL_SCOPE } from "./access/grantsScope.ts"
export { grantsOfClaims } from "./access/tokenGrants.ts"
export { agentIdProblem, MAX_AGENT_ID_LENGTH, MAX_TOKEN_ID_LENGTH, tokenIdProblem } from "./access/AgentIdentity.ts"
export type { AgentIdentity, CallerIdentity, OperatorIdentity } from "./access/AgentIdentity.ts"
export { forgetAfter, forgetExpired, isRevoked, noRevocations, revocationsOf, revokeAgent, revokeToken, snapshotOf } from "./access/revocations.ts"
export type { Revocations, RevocationsSnapshot, RevocationSubject, RevocationWindow } from "./access/revocations.ts"
export { fullBucket, isBucketFull, refillBucket, takeFromBucket } from "./access/tokenBucket.ts"
export type { Bucket, Rate, Taken } from "./access/tokenBucket.ts"
export { RevocationStore, RevocationStoreFailed } from "./ports/RevocationStore.ts"
export type { RevocationStoreProblem } from "./ports/RevocationStore.ts"
export { InvalidRevocation, makeAgentRevocations } from "./access/AgentRevocations.ts"
export { AgentAccess, makeAgentAccess } from "./access/AgentAccess.ts"
export type { AgentRevocations, AgentRevocationsDeps, Revocation } from "./access/AgentRevocations.ts"
export { AccessTokens, TokenRefused } from "./ports/AccessTokens.ts"
export type { TokenProblem } from "./ports/AccessTokens.ts"
export { AgentTokenIssuer, InvalidTokenRequest, IssuerKeysFailed } from "./ports/AgentTokenIssuer.ts"
export type { IssuedToken, IssuerKeysProblem, JsonWebKeySet, PublicJsonWebKey, TokenRequest } from "./ports/AgentTokenIssuer.ts"
export { makeMcpGroups } from "./usecases/McpGroups.ts"
export type { McpGroups } from "./usecases/McpGroups.ts"
export { toolOperations } from "./usecases/ToolOperations.ts"
export { wipeLeftoverCredentials } from "./usecases/credentialLeftovers.ts"
export { repeatHeartbeats } from "./usecases/Heartbeat.ts"
export { token } from "./Token.ts"
export type { Token } from "./Token.ts"
export {
  AUDIT_OUTCOMES,
  auditCallerOf,
  auditRecordOf,
  MAX_AUDIT_AGENT_ID_LENGTH,
  MAX_AUDIT_METHOD_LENGTH,
  MAX_AUDIT_NAME_LENGTH,
  MAX_AUDIT_ROUTE_LENGTH,
  MAX_AUDIT_TOKEN_ID_LENGTH,
  NOT_A_FINGERPRINT,
  OPERATOR_FINGERPRINT,
  parseAuditRecord,
} from "./audit/AuditRecord.ts"
export type { AuditCaller, AuditOutcome, AuditRecord, AuditRecordInput } from "./audit/AuditRecord.ts"
export { answerAuditQuery, CLOCK_STEP_ALLOWANCE_MS, limitOf, matchesAuditQuery, MAX_AUDIT_QUERY_LIMIT, olderThanAsked } from "./audit/auditQuery.ts"
export type { AuditQuery } from "./audit/auditQuery.ts"
export { AuditLog, AuditLogUnreadable } from "./ports/AuditLog.ts"
export type { AuditSink } from "./ports/AuditLog.ts"
