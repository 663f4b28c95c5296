import { trace } from "@opentelemetry/api"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources"
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace"
import { TRACER_NAME } from "../server/traceContext.ts"
import type { Tracing, TracingSettings } from "./tracing.ts"
import { DTMA_VERSION } from "./version.ts"

/** How long shutdown waits for the last spans to go out: a collector that is down must not hold the exit. */
const FLUSH_TIMEOUT_MS = 3_000
/** Caller-supplied values (tool names, resource URIs, paths) are cut to this many characters in a span. */
const MAX_ATTRIBUTE_LENGTH = 512

/**
 * The OpenTelemetry SDK's `TracerProvider`, registered as the global one, with a batch processor
 * (at most 2048 spans queued, more are dropped; a batch every 5 s) and the OTLP/HTTP exporter
 * pointed at `settings.endpoint`, which also reads `OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`,
 * `…_COMPRESSION` and the certificate variables. Spans name the service `settings.serviceName`,
 * version the DTMA's. Every span is sampled, unless a caller's `traceparent` says it is not.
 */
export const startOtlpTracing = (settings: TracingSettings): Tracing => {
  const provider = new TracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ "service.name": settings.serviceName, "service.version": DTMA_VERSION })),
    spanLimits: { attributeValueLengthLimit: MAX_ATTRIBUTE_LENGTH },
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: settings.endpoint }) })],
  })
  trace.setGlobalTracerProvider(provider)
  let stopped: Promise<void> | undefined
  const shutdown = (): Promise<void> => {
    stopped ??= (async () => {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_TIMEOUT_MS).unref()))
      await Promise.race([provider.shutdown().catch(() => undefined), late])
      clearTimeout(timer)
      trace.disable()
    })()
    return stopped
  }
  return { tracer: provider.getTracer(TRACER_NAME, DTMA_VERSION), enabled: true, shutdown }
}
