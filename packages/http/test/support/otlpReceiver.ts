import { once } from "node:events"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

type Attributes = ReadonlyArray<{ readonly key: string; readonly value: Readonly<Record<string, unknown>> }>

export interface ExportedSpan {
  readonly name: string
  readonly traceId: string
  readonly attributes: Attributes
}

/** One resource's spans of a `POST /v1/traces`. */
export interface ReceivedExport {
  readonly resource: { readonly attributes: Attributes }
  readonly spans: ReadonlyArray<ExportedSpan>
}

export interface OtlpReceiver {
  readonly url: string
  /** What was exported, one entry per resource per POST, in order. */
  readonly received: Array<ReceivedExport>
  /** Every span received, with the `service.name` of the resource it came from. */
  spans(): ReadonlyArray<ExportedSpan & { readonly service: unknown }>
  close(): void
}

/** A loopback OTLP/HTTP (JSON) receiver of `POST /v1/traces`. */
export const otlpReceiver = async (): Promise<OtlpReceiver> => {
  const received: Array<ReceivedExport> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/traces") {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          resourceSpans: Array<{ resource: ReceivedExport["resource"]; scopeSpans: Array<{ spans: Array<ExportedSpan> }> }>
        }
        for (const r of body.resourceSpans) received.push({ resource: r.resource, spans: r.scopeSpans.flatMap((s) => s.spans) })
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    spans: () =>
      received.flatMap(({ resource, spans }) => {
        const service = resource.attributes.find((a) => a.key === "service.name")?.value["stringValue"]
        return spans.map((s) => ({ ...s, service }))
      }),
    close: () => server.close(),
  }
}
