import { trace } from "@opentelemetry/api"
import { describe, expect, it } from "vitest"
import { ConfigError } from "../../src/composition/config.ts"
import { endpointForLog, startTracing, tracingSettingsOf } from "../../src/composition/tracing.ts"
import { DTMA_VERSION } from "../../src/composition/version.ts"
import { otlpReceiver } from "../support/otlpReceiver.ts"

describe("the tracing settings", () => {
  it.each([
    ["no OTLP endpoint", {}, null],
    ["an empty one", { OTEL_EXPORTER_OTLP_ENDPOINT: " " }, null],
    [
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" },
      { endpoint: "http://127.0.0.1:4318/v1/traces", serviceName: "dtma" },
    ],
    ["it with a path", { OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example/base/" }, { endpoint: "https://otel.example/base/v1/traces", serviceName: "dtma" }],
    [
      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, used as given and ahead of the other",
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/custom", OTEL_EXPORTER_OTLP_ENDPOINT: "http://ignored:4318" },
      { endpoint: "http://127.0.0.1:4318/custom", serviceName: "dtma" },
    ],
    ["OTEL_SERVICE_NAME", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SERVICE_NAME: "dtma-eu-1" }, { serviceName: "dtma-eu-1" }],
    ["OTEL_SDK_DISABLED=true", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SDK_DISABLED: "true" }, null],
    ["OTEL_TRACES_EXPORTER=none", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_TRACES_EXPORTER: "none" }, null],
  ])("are read from %s", (_, env, expected) => {
    const settings = tracingSettingsOf(env)
    if (expected === null) expect(settings).toBeNull()
    else expect(settings).toMatchObject(expected)
  })

  it("refuse an endpoint that is not an http(s) URL, naming the variable and not its value", () => {
    for (const [name, value] of [
      ["OTEL_EXPORTER_OTLP_ENDPOINT", "not a url with secret-part"],
      ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://user:secret-part@collector"],
    ] as const) {
      const error = (() => {
        try {
          return tracingSettingsOf({ [name]: value })
        } catch (thrown) {
          return thrown
        }
      })()
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as ConfigError).message).toBe(`Configuration error: ${name} must be an http(s) URL`)
    }
  })

  it("log where spans go without credentials or a query", () => {
    expect(endpointForLog({ endpoint: "https://user:secret@otel.example/v1/traces?key=secret", serviceName: "dtma" })).toBe("https://otel.example/v1/traces")
  })
})

describe("tracing", () => {
  it("registers no provider when off: spans are the API's no-op ones", async () => {
    const tracing = await startTracing(tracingSettingsOf({}))
    expect(tracing.enabled).toBe(false)
    for (const tracer of [tracing.tracer, trace.getTracer("any")]) {
      const span = tracer.startSpan("nothing")
      expect(span.isRecording()).toBe(false)
      expect(span.spanContext().traceId).toBe("00000000000000000000000000000000")
      span.end()
    }
    await tracing.shutdown()
  })

  it("sends spans to the OTLP endpoint when on, as dtma with its version, and flushes them at shutdown", async () => {
    const receiver = await otlpReceiver()
    try {
      const tracing = await startTracing(tracingSettingsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }))
      expect(tracing.enabled).toBe(true)
      const viaGlobal = trace.getTracer("any").startSpan("global")
      expect(viaGlobal.isRecording()).toBe(true)
      viaGlobal.end()
      for (const name of ["one", "two", "three"]) tracing.tracer.startSpan(name).end()
      expect(receiver.received).toEqual([])
      await tracing.shutdown()
      expect(receiver.received.flatMap((r) => r.spans.map((s) => s.name)).sort()).toEqual(["global", "one", "three", "two"])
      expect(JSON.stringify(receiver.received[0]?.resource)).toContain(JSON.stringify({ key: "service.name", value: { stringValue: "dtma" } }))
      expect(JSON.stringify(receiver.received[0]?.resource)).toContain(JSON.stringify({ key: "service.version", value: { stringValue: DTMA_VERSION } }))
      expect(trace.getTracer("any").startSpan("after").isRecording()).toBe(false)
    } finally {
      receiver.close()
    }
  })
})
