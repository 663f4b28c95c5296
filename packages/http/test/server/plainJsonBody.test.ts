import { once } from "node:events"
import { request, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Writable } from "node:stream"
import fc from "fast-check"
import Koa from "koa"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createLogger } from "../../src/composition/logger.ts"
import { errorBoundary } from "../../src/server/errorBoundary.ts"
import { jsonBody } from "../../src/server/jsonBody.ts"
import { plainJsonLengthOf } from "../../src/server/plainJsonBody.ts"

// A body with a Content-Length is read by plainJsonBody.ts; the same bytes sent chunked take
// @koa/bodyparser. Both must give every body the same answer: status, JSON and what the handler saw.

let server: Server
let port: number

beforeAll(async () => {
  const app = new Koa()
  app.use(errorBoundary(createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, done) => done() }) })))
  app.use(jsonBody())
  app.use((ctx) => {
    ctx.body = { seen: ctx.request.body, own: Object.keys(ctx.request.body as object) }
  })
  server = app.listen(0, "127.0.0.1")
  await once(server, "listening")
  port = (server.address() as AddressInfo).port
})
afterAll(() => server.close())

const post = (bytes: Buffer, framing: "length" | "chunked", headers: Record<string, string> = {}): Promise<string> =>
  new Promise((resolve, reject) => {
    const framed = framing === "length" ? { "content-length": String(bytes.length) } : { "transfer-encoding": "chunked" }
    const req = request(
      { host: "127.0.0.1", port, method: "POST", path: "/", headers: { "content-type": "application/json", ...headers, ...framed } },
      (res) => {
        let body = ""
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => (body += chunk))
        res.on("end", () => resolve(`${res.statusCode} ${body}`))
      },
    )
    req.on("error", reject)
    // Chunked: in two pieces, split anywhere (a UTF-8 character among them).
    const cut = Math.floor(bytes.length / 2)
    if (framing === "chunked" && bytes.length > 1) req.write(bytes.subarray(0, cut))
    req.end(framing === "chunked" && bytes.length > 1 ? bytes.subarray(cut) : bytes)
  })

const tricky = fc.constantFrom(
  '{"__proto__":{"x":1}}',
  '{"a":[{"b":{"__proto__":1}}]}',
  '{"constructor":{"prototype":{"x":1}}}',
  '{"constructor":{"prototyp":1}}',
  '{"\\u005f_proto__":1}',
  '{"a":"__proto__"}',
  '{"prototype":1}',
  '\uFEFF{"a":1}',
  "  [1,2]",
  '"text"',
  "42",
  "   ",
  "{",
  '{"a":1}x',
  "null",
  '{"é":"ü"}',
)
const bodies = fc.oneof(
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
  fc.json().map((t) => Buffer.from(t)),
  tricky.map((t) => Buffer.from(t)),
  fc.string({ unit: "binary", minLength: 1 }).map((t) => Buffer.from(t)),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.concat([Buffer.from('{"a":"'), Buffer.from(b), Buffer.from('"}')])),
)

describe("a JSON body read by its Content-Length", () => {
  it("is answered as @koa/bodyparser answers the same bytes sent chunked", async () => {
    await fc.assert(
      fc.asyncProperty(bodies, async (bytes) => {
        expect(await post(bytes, "length")).toBe(await post(bytes, "chunked"))
      }),
      { numRuns: 300 },
    )
  })

  it("keeps the answers for a body of another type, a compressed one and an oversized one", async () => {
    const text = Buffer.from('{"a":1}')
    expect(await post(text, "length", { "content-type": "text/plain" })).toMatch(/^415 /)
    expect(await post(text, "length", { "content-type": "application/vnd.api+json" })).toBe('200 {"seen":{"a":1},"own":["a"]}')
    expect(await post(text, "length", { "content-encoding": "gzip" })).toMatch(/^400 .*bad_encoding/)
    expect(await post(Buffer.alloc(1024 * 1024 + 1, " "), "length")).toMatch(/^413 .*payload_too_large/)
  })

  it("is read only with a plain length within the limit and no Content-Encoding", () => {
    expect(plainJsonLengthOf({ "content-length": "12" })).toBe(12)
    expect(plainJsonLengthOf({ "content-length": "12", "content-encoding": "identity" })).toBe(12)
    expect(plainJsonLengthOf({ "content-length": "12", "content-encoding": "gzip" })).toBeNull()
    expect(plainJsonLengthOf({ "content-length": "0" })).toBeNull()
    expect(plainJsonLengthOf({ "content-length": String(1024 * 1024 + 1) })).toBeNull()
    expect(plainJsonLengthOf({})).toBeNull()
  })
})
