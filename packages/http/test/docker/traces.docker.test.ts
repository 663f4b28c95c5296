import { describe, expect, it } from "vitest"
import { startDtma } from "../support/dtmaProcess.ts"
import { otlpReceiver } from "../support/otlpReceiver.ts"

describe("a DTMA with OTEL_EXPORTER_OTLP_ENDPOINT set", () => {
  it("sends the spans of its requests to the collector, the last ones when SIGTERM stops it", async () => {
    const receiver = await otlpReceiver()
    try {
      const dtma = await startDtma({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } })
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
      const listed = await fetch(`${dtma.url}/mcp-servers`, {
        headers: { authorization: `Bearer ${dtma.token}`, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      })
      expect(listed.status).toBe(200)
      // The batch goes out every 5 s: these are still queued when the signal comes.
      await dtma.kill("SIGTERM")
      const span = receiver.spans().find((s) => s.name === "GET /mcp-servers")
      expect(span).toMatchObject({ traceId, service: "dtma" })
      expect(dtma.output()).toContain("traces go to the OTLP endpoint")
      expect(
        receiver
          .spans()
          .map((s) => JSON.stringify(s))
          .join("\n"),
      ).not.toContain(String(dtma.token))
    } finally {
      receiver.close()
    }
  })
})
