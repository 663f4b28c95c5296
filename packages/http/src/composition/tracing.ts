import type { Tracer } from "@opentelemetry/api"
import { globalTracer } from "../server/traceContext.ts"
import { ConfigError } from "./config.ts"

/** Where spans go, from the standard OpenTelemetry variables; tracing is off without an endpoint. */
export interface TracingSettings {
  /** The OTLP/HTTP traces URL: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. */
  readonly endpoint: string
  /** `OTEL_SERVICE_NAME`, else `dtma`. */
  readonly serviceName: string
}

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
 * Tracing as `settings` say. Off (null): no provider is registered and the SDK is not even loaded;
 * the tracer is the OpenTelemetry API's no-op one (a span costs an object, nothing is recorded).
 * On: the SDK with the OTLP/HTTP exporter (`otlpTracing.ts`), registered as the global provider.
 */
export const startTracing = async (settings: TracingSettings | null): Promise<Tracing> => {
  if (settings === null) return { tracer: globalTracer(), enabled: false, shutdown: () => Promise.resolve() }
  // Loaded only when on: the SDK and the exporter are some 5 MB of a DTMA that does not trace.
  const { startOtlpTracing } = await import("./otlpTracing.ts")
  return startOtlpTracing(settings)
}

/** Where spans go, for the start-up log line: the endpoint's origin and path, never credentials or a query. */
export const endpointForLog = (settings: TracingSettings): string => {
  const url = new URL(settings.endpoint)
  return `${url.origin}${url.pathname}`
}
