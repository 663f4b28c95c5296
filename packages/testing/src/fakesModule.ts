import {
  AuditLog,
  ContainerEvents,
  ContainerLogs,
  ContainerRuntime,
  ControlPlane,
  CredentialDelivery,
  CredentialSource,
  HostMetrics,
  McpConnector,
} from "@dtma/domain"
import { ContainerModule } from "inversify"
import { FixedHostMetrics } from "./fakes/FixedHostMetrics.ts"
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
  readonly auditLog: InMemoryAuditLog
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
    bind<AuditLog>(AuditLog).toConstantValue(auditLog)
  })
}
