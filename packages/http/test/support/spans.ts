import type { Tracer } from "@opentelemetry/api"
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from "@opentelemetry/sdk-trace"

/** A tracer whose spans are kept in memory as each ends; no provider is registered globally. */
export const recordingTracer = (): { readonly tracer: Tracer; spans(): ReadonlyArray<ReadableSpan> } => {
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
  return { tracer: provider.getTracer("dtma"), spans: () => exporter.getFinishedSpans() }
}

/** Everything a span says that could carry a caller's data: name, attributes, links, events, status. */
export const spanText = (spans: ReadonlyArray<ReadableSpan>): string =>
  JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, links: s.links, events: s.events, status: s.status })))

/** A W3C `traceparent` with these ids, sampled. */
export const traceparent = (traceId: string, spanId: string): string => `00-${traceId}-${spanId}-01`
