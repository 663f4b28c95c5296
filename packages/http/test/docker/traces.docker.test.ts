import { once } from "node:events"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import { startDtma } from "../support/dtmaProcess.ts"

interface ExportedSpan {
  readonly name: string
  readonly traceId: string
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: Readonly<Record<string, unknown>> }>
}

/** A loopback OTLP/HTTP receiver: the spans of every `POST /v1/traces`, and the service each came from. */
const otlpReceiver = async () => {
  const spans: Array<ExportedSpan & { readonly service: unknown }> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/traces") {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          resourceSpans: Array<{ resource: { attributes: ExportedSpan["attributes"] }; scopeSpans: Array<{ spans: Array<ExportedSpan> }> }>
        }
        for (const r of body.resourceSpans) {
          const service = r.resource.attributes.find((a) => a.key === "service.name")?.value["stringValue"]
          for (const s of r.scopeSpans.flatMap((scope) => scope.spans)) spans.push({ ...s, service })
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, close: () => server.close() }
}

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
      const span = receiver.spans.find((s) => s.name === "GET /mcp-servers")
      expect(span).toMatchObject({ traceId, service: "dtma" })
      expect(dtma.output()).toContain("traces go to the OTLP endpoint")
      expect(receiver.spans.map((s) => JSON.stringify(s)).join("\n")).not.toContain(String(dtma.token))
    } finally {
      receiver.close()
    }
  })
})
