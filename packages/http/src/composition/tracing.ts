import { trace, type Tracer } from "@opentelemetry/api"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources"
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace"
import { globalTracer, TRACER_NAME } from "../server/traceContext.ts"
import { ConfigError } from "./config.ts"
import { DTMA_VERSION } from "./version.ts"

/** Where spans go, from the standard OpenTelemetry variables; tracing is off without an endpoint. */
export interface TracingSettings {
  /** The OTLP/HTTP traces URL: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. */
  readonly endpoint: string
  /** `OTEL_SERVICE_NAME`, else `dtma`. */
  readonly serviceName: string
}

/** How long shutdown waits for the last spans to go out: a collector that is down must not hold the exit. */
const FLUSH_TIMEOUT_MS = 3_000
/** Caller-supplied values (tool names, resource URIs, paths) are cut to this many characters in a span. */
const MAX_ATTRIBUTE_LENGTH = 512

// The OpenTelemetry specification reads an empty variable as an unset one.
const valueOf = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const value = env[name]?.trim()
  return value === undefined || value === "" ? undefined : value
}

const urlOrFail = (text: string, name: string): string => {
  const url = URL.parse(text)
  // The message names the variable, never its value: a URL may carry credentials.
  if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) throw new ConfigError({ problem: `${name} must be an http(s) URL` })
  return url.href
}

/**
 * The tracing settings of `env`: null (off) unless `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set, or when `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
 * An endpoint that is not an http(s) URL is a `ConfigError`.
 */
export const tracingSettingsOf = (env: NodeJS.ProcessEnv): TracingSettings | null => {
  if (valueOf(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true" || valueOf(env, "OTEL_TRACES_EXPORTER")?.toLowerCase() === "none") return null
  const serviceName = valueOf(env, "OTEL_SERVICE_NAME") ?? "dtma"
  const traces = valueOf(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
  if (traces !== undefined) return { endpoint: urlOrFail(traces, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), serviceName }
  const base = valueOf(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
  if (base === undefined) return null
  const root = urlOrFail(base, "OTEL_EXPORTER_OTLP_ENDPOINT")
  return { endpoint: `${root.endsWith("/") ? root : `${root}/`}v1/traces`, serviceName }
}

/** The DTMA's tracer and how to stop it. */
export interface Tracing {
  /** The tracer the HTTP edge and the MCP proxy start their spans with. */
  readonly tracer: Tracer
  /** Whether spans are recorded and exported (a provider is registered). */
  readonly enabled: boolean
  /** Exports the spans still queued (bounded in time) and stops; idempotent. */
  shutdown(): Promise<void>
}

/**
 * Tracing as `settings` say. Off (null): no provider is registered, and the tracer is the
 * OpenTelemetry API's no-op one (a span costs an object, nothing is recorded). On: a provider with a
 * batch processor (at most 2048 spans queued; more are dropped) and the OTLP/HTTP exporter (which also reads `OTEL_EXPORTER_OTLP_HEADERS`,
 * `…_TIMEOUT`, `…_COMPRESSION` and the certificate variables), registered as the global one.
 * `exporter` replaces the OTLP exporter (tests).
 */
export const startTracing = (settings: TracingSettings | null, options: { readonly exporter?: SpanExporter } = {}): Tracing => {
  if (settings === null) return { tracer: globalTracer(), enabled: false, shutdown: () => Promise.resolve() }
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: settings.endpoint })
  const provider = new TracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ "service.name": settings.serviceName, "service.version": DTMA_VERSION })),
    spanLimits: { attributeValueLengthLimit: MAX_ATTRIBUTE_LENGTH },
    spanProcessors: [new BatchSpanProcessor({ exporter })],
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

/** Where spans go, for the start-up log line: the endpoint's origin and path, never credentials or a query. */
export const endpointForLog = (settings: TracingSettings): string => {
  const url = new URL(settings.endpoint)
  return `${url.origin}${url.pathname}`
}
