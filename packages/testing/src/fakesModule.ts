import { ContainerRuntime, ControlPlane, HostMetrics } from "@dtma/domain"
import { ContainerModule } from "inversify"
import { FixedHostMetrics } from "./fakes/FixedHostMetrics.ts"
import { InMemoryContainerRuntime } from "./fakes/InMemoryContainerRuntime.ts"
import { RecordingControlPlane } from "./fakes/RecordingControlPlane.ts"

export interface Fakes {
  readonly runtime: InMemoryContainerRuntime
  readonly controlPlane: RecordingControlPlane
  readonly metrics: FixedHostMetrics
}

/**
 * Binds every fake under the ports' tokens, in place of the real adapters. Pass the fakes to keep
 * hold of them (to inject faults or inspect what they recorded); missing ones are made fresh.
 */
export const fakesModule = (fakes: Partial<Fakes> = {}): ContainerModule => {
  const runtime = fakes.runtime ?? new InMemoryContainerRuntime()
  const controlPlane = fakes.controlPlane ?? new RecordingControlPlane()
  const metrics = fakes.metrics ?? new FixedHostMetrics()
  return new ContainerModule(({ bind }) => {
    bind<ContainerRuntime>(ContainerRuntime).toConstantValue(runtime)
    bind<ControlPlane>(ControlPlane).toConstantValue(controlPlane)
    bind<HostMetrics>(HostMetrics).toConstantValue(metrics)
  })
}
