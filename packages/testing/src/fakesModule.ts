import * as Effect from "effect/Effect"
import {
  AgentAccess,
  AuditLog,
  ContainerEvents,
  ContainerLogs,
  ContainerRuntime,
  ControlPlane,
  CredentialDelivery,
  CredentialSource,
  HostMetrics,
  makeAgentAccess,
  makeAgentRevocations,
  McpConnector,
} from "@dtma/domain"
import { ContainerModule } from "inversify"
import { FixedHostMetrics } from "./fakes/FixedHostMetrics.ts"
import { InMemoryAccessTokens } from "./fakes/InMemoryAccessTokens.ts"
import { InMemoryAgentTokenIssuer } from "./fakes/InMemoryAgentTokenIssuer.ts"
import { InMemoryRevocationStore } from "./fakes/InMemoryRevocationStore.ts"
import { InMemoryAuditLog } from "./fakes/InMemoryAuditLog.ts"
import { InMemoryContainerEvents } from "./fakes/InMemoryContainerEvents.ts"
import { InMemoryContainerLogs } from "./fakes/InMemoryContainerLogs.ts"
import { InMemoryContainerRuntime } from "./fakes/InMemoryContainerRuntime.ts"
import { InMemoryCredentialDelivery } from "./fakes/InMemoryCredentialDelivery.ts"
import { InMemoryCredentialSource } from "./fakes/InMemoryCredentialSource.ts"
import { InMemoryMcpConnector } from "./fakes/InMemoryMcpConnector.ts"
import { RecordingControlPlane } from "./fakes/RecordingControlPlane.ts"

export interface Fakes {
  readonly runtime: InMemoryContainerRuntime
  readonly controlPlane: RecordingControlPlane
  readonly metrics: FixedHostMetrics
  readonly connector: InMemoryMcpConnector
  readonly logs: InMemoryContainerLogs
  readonly events: InMemoryContainerEvents
  readonly credentialDelivery: InMemoryCredentialDelivery
  readonly credentialSource: InMemoryCredentialSource
  /** Agent access over fakes: `tokens` mints and verifies, `issuer` is the built-in issuer, `revocations` persist in `revocationStore`. */
  readonly agentAccess: FakeAgentAccess
  readonly auditLog: InMemoryAuditLog
}

/** Agent access over the fakes, with each part at hand. */
export interface FakeAgentAccess {
  readonly access: AgentAccess
  readonly tokens: InMemoryAccessTokens
  readonly issuer: InMemoryAgentTokenIssuer
  readonly revocationStore: InMemoryRevocationStore
}

/** Agent access over fakes: a fake verifier that trusts the fake built-in issuer, revocations in memory. */
export const fakeAgentAccess = (options: { readonly issuer?: string; readonly maxTtlSeconds?: number } = {}): FakeAgentAccess => {
  const revocationStore = new InMemoryRevocationStore()
  const maxTtlSeconds = options.maxTtlSeconds ?? 86_400
  const revocations = Effect.runSync(makeAgentRevocations({ store: revocationStore, window: { maxTokenLifetimeMs: maxTtlSeconds * 1000, leewayMs: 30_000 } }))
  const tokens = new InMemoryAccessTokens({ revocations })
  const issuer = new InMemoryAgentTokenIssuer({ tokens, maxTtlSeconds, ...(options.issuer === undefined ? {} : { issuer: options.issuer }) })
  return { access: makeAgentAccess({ tokens, issuer, revocations, externalIssuers: [] }), tokens, issuer, revocationStore }
}

/**
 * Binds every fake under the ports' tokens, in place of the real adapters. Pass the fakes to keep
 * hold of them (to inject faults or inspect what they recorded); missing ones are made fresh.
 */
export const fakesModule = (fakes: Partial<Fakes> = {}): ContainerModule => {
  const runtime = fakes.runtime ?? new InMemoryContainerRuntime()
  const controlPlane = fakes.controlPlane ?? new RecordingControlPlane()
  const metrics = fakes.metrics ?? new FixedHostMetrics()
  const connector = fakes.connector ?? new InMemoryMcpConnector()
  const logs = fakes.logs ?? new InMemoryContainerLogs()
  const events = fakes.events ?? new InMemoryContainerEvents()
  const credentialDelivery = fakes.credentialDelivery ?? new InMemoryCredentialDelivery()
  const credentialSource = fakes.credentialSource ?? new InMemoryCredentialSource()
  const agentAccess = fakes.agentAccess ?? fakeAgentAccess()
  const auditLog = fakes.auditLog ?? new InMemoryAuditLog()
  return new ContainerModule(({ bind }) => {
    bind<ContainerRuntime>(ContainerRuntime).toConstantValue(runtime)
    bind<ControlPlane>(ControlPlane).toConstantValue(controlPlane)
    bind<HostMetrics>(HostMetrics).toConstantValue(metrics)
    bind<McpConnector>(McpConnector).toConstantValue(connector)
    bind<ContainerLogs>(ContainerLogs).toConstantValue(logs)
    bind<ContainerEvents>(ContainerEvents).toConstantValue(events)
    bind<CredentialDelivery>(CredentialDelivery).toConstantValue(credentialDelivery)
    bind<CredentialSource>(CredentialSource).toConstantValue(credentialSource)
    bind<AgentAccess>(AgentAccess).toConstantValue(agentAccess.access)
    bind<AuditLog>(AuditLog).toConstantValue(auditLog)
  })
}
