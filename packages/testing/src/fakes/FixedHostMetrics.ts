import * as Effect from "effect/Effect"
import type { HostMetrics, HostMetricsSample } from "@dtma/domain"

export const fixedSample: HostMetricsSample = {
  cpuLoadPercent: 3.2,
  memory: { totalBytes: 8_000, activeBytes: 3_000, freeBytes: 5_000, usedBytes: 3_000 },
  disk: { mount: "/", totalBytes: 100_000, usedBytes: 40_000, freeBytes: 60_000 },
}

/** Host metrics that never change. */
export class FixedHostMetrics implements HostMetrics {
  readonly value: HostMetricsSample
  constructor(value: HostMetricsSample = fixedSample) {
    this.value = value
  }
  sample() {
    return Effect.succeed(this.value)
  }
}
