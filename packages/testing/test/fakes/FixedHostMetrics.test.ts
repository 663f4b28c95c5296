import { hostMetricsContract, FixedHostMetrics } from "../../src/index.ts"

hostMetricsContract("FixedHostMetrics", async () => ({ metrics: new FixedHostMetrics() }))
