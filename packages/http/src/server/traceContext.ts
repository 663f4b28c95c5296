import { isSpanContextValid, ROOT_CONTEXT, trace, type Context, type SpanContext, type TextMapGetter, type Tracer } from "@opentelemetry/api"
import { W3CTraceContextPropagator } from "@opentelemetry/core"
import { DTMA_VERSION } from "../composition/version.ts"

/** The instrumentation scope of every span the DTMA makes. */
export const TRACER_NAME = "dtma"

/** The global tracer: the OpenTelemetry API's no-op one unless `startTracing` registered a provider. */
export const globalTracer = (): Tracer => trace.getTracer(TRACER_NAME, DTMA_VERSION)

/**
 * W3C Trace Context (`traceparent`, `tracestate`), the one format the DTMA reads and writes: in a
 * request's HTTP headers and in an MCP request's `params._meta` (as the MCP semantic conventions
 * and SEP-414 put it). Used directly rather than through the API's global propagator, so that it
 * works the same whether or not tracing is on.
 */
const propagator = new W3CTraceContextPropagator()

type Carrier = Readonly<Record<string, unknown>>

// Only strings: `_meta` is whatever a client sent.
const getter: TextMapGetter<Carrier> = {
  get: (carrier, key) => {
    const value = carrier[key]
    return typeof value === "string" || (Array.isArray(value) && value.every((v) => typeof v === "string")) ? value : undefined
  },
  keys: (carrier) => Object.keys(carrier),
}

/** `base` with the remote parent `carrier` names (HTTP headers or an MCP `_meta`); `base` itself when it names none, or a malformed one. */
export const contextFrom = (carrier: Carrier, base: Context = ROOT_CONTEXT): Context => propagator.extract(base, carrier, getter)

/** What passes `spanContext` on: `traceparent`, and `tracestate` when there is one; null for no valid context. */
export const traceFieldsOf = (spanContext: SpanContext): Readonly<Record<string, string>> | null => {
  if (!isSpanContextValid(spanContext)) return null
  const fields: Record<string, string> = {}
  propagator.inject(trace.setSpanContext(ROOT_CONTEXT, spanContext), fields, { set: (carrier, key, value) => (carrier[key] = value) })
  return fields
}

/** The trace a context's span belongs to (32 hex digits); undefined when it has no valid span context. */
export const traceIdOf = (spanContext: SpanContext): string | undefined => (isSpanContextValid(spanContext) ? spanContext.traceId : undefined)
