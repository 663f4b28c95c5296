import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { afterEach, describe, expect, it } from "vitest"
import { auditRecordOf, type AuditRecord } from "@dtma/domain"
import { run } from "@dtma/testing"
import { makeAgentopiaAuditShipping, type AgentopiaAuditShippingOptions } from "../../src/agentopia/AgentopiaAuditShipping.ts"

const TOKEN = "dtma-outbound-token-1"

interface Seen {
  readonly url: string
  readonly authorization: string | undefined
  readonly body: { readonly records: ReadonlyArray<AuditRecord> }
}

const servers: Array<Server> = []
const scopes: Array<Scope.Closeable> = []
afterEach(async () => {
  for (const scope of scopes.splice(0)) await Effect.runPromise(Scope.close(scope, Exit.void))
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})

/** A loopback backend answering each request as `answer` says, on `port` (0: any free one). */
const backend = async (answer: (req: IncomingMessage, res: ServerResponse, n: number) => void, port = 0) => {
  const seen: Array<Seen> = []
  const server = createServer((req, res) => {
    let text = ""
    req.on("data", (c: Buffer) => (text += c.toString()))
    req.on("end", () => {
      seen.push({ url: req.url ?? "", authorization: req.headers.authorization, body: JSON.parse(text) })
      answer(req, res, seen.length)
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve))
  return { seen, port: (server.address() as AddressInfo).port, delivered: () => seen.flatMap((s) => s.body.records) }
}

const freePort = async (): Promise<number> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

const ship = async (port: number, options: Partial<AgentopiaAuditShippingOptions> = {}) => {
  const scope = Scope.makeUnsafe()
  scopes.push(scope)
  const problems: Array<{ kind: string; records: number; detail: string }> = []
  const shipping = await Effect.runPromise(
    makeAgentopiaAuditShipping({
      baseUrl: `http://127.0.0.1:${port}/functions/v1/`,
      token: Redacted.make(TOKEN),
      timeoutMs: 500,
      intervalMs: 20,
      retryBaseMs: 10,
      retryMaxMs: 40,
      onProblem: (p) => problems.push(p),
      ...options,
    }).pipe(Scope.provide(scope)),
  )
  const recordAll = (records: ReadonlyArray<AuditRecord>) => run(Effect.forEach(records, (r) => shipping.record(r), { discard: true }))
  return { shipping, scope, problems, recordAll, stop: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const records = (n: number, from = 0): Array<AuditRecord> =>
  Array.from({ length: n }, (_, i) =>
    auditRecordOf({ time: 1_780_000_000_000 + from + i, route: "/mcp-servers/:name/mcp", server: "memory", name: `tool_${from + i}`, outcome: "ok" }),
  )

const eventually = async (check: () => void, ms = 5_000): Promise<void> => {
  const until = Date.now() + ms
  for (;;) {
    try {
      check()
      return
    } catch (e) {
      if (Date.now() > until) throw e
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}

describe("AgentopiaAuditShipping", () => {
  it("posts records in batches of at most the batch size to {base}/dtma-audit with the DTMA's token, the body holding records only", async () => {
    const b = await backend((_req, res) => res.writeHead(204).end())
    const { recordAll, shipping } = await ship(b.port, { batchSize: 2 })
    const sent = records(5)
    await recordAll(sent)
    await eventually(() => expect(b.delivered()).toEqual(sent))
    for (const s of b.seen) {
      expect(s).toMatchObject({ url: "/functions/v1/dtma-audit", authorization: `Bearer ${TOKEN}` })
      expect(Object.keys(s.body)).toEqual(["records"])
      expect(s.body.records.length).toBeLessThanOrEqual(2)
      expect(JSON.stringify(s.body)).not.toContain(TOKEN)
    }
    // The backend has them before the shipping has its answer.
    await eventually(() => expect(shipping.stats()).toEqual({ queued: 0, delivered: 5, dropped: { queue_full: 0, rejected: 0 } }))
  })

  it("posts to the path it is given", async () => {
    const b = await backend((_req, res) => res.writeHead(200).end("{}"))
    const { recordAll } = await ship(b.port, { path: "audit/ingest" })
    await recordAll(records(1))
    await eventually(() => expect(b.seen.map((s) => s.url)).toEqual(["/functions/v1/audit/ingest"]))
  })

  it("sends a full batch at once, without waiting for the interval", async () => {
    const b = await backend((_req, res) => res.writeHead(200).end())
    const { recordAll } = await ship(b.port, { batchSize: 3, intervalMs: 60_000 })
    await recordAll(records(3))
    await eventually(() => expect(b.delivered()).toHaveLength(3))
  })

  it("keeps records while the backend is down, refusing connections then answering 503, and then delivers every one once, in order", async () => {
    const port = await freePort()
    const { recordAll, problems, shipping } = await ship(port, { batchSize: 4 })
    const sent = records(10)
    await recordAll(sent.slice(0, 6))
    await eventually(() => expect(problems.length).toBeGreaterThanOrEqual(2))
    const b = await backend((_req, res, n) => (n <= 2 ? res.writeHead(503, "Service Unavailable").end() : res.writeHead(200).end()), port)
    await recordAll(sent.slice(6))
    await eventually(() => expect(b.delivered().slice(-10)).toEqual(sent))
    const accepted = b.seen.slice(2).flatMap((s) => s.body.records)
    expect(accepted).toEqual(sent)
    await eventually(() => expect(shipping.stats()).toMatchObject({ queued: 0, delivered: 10, dropped: { queue_full: 0, rejected: 0 } }))
    expect(problems.every((p) => p.kind === "unavailable")).toBe(true)
  })

  it("drops the oldest records when its queue is full, counts them, and delivers the rest when it stops", async () => {
    const b = await backend((_req, res) => res.writeHead(200).end())
    const { recordAll, shipping, stop } = await ship(b.port, { maxQueued: 5, batchSize: 100, intervalMs: 60_000 })
    const sent = records(12)
    await recordAll(sent)
    expect(shipping.stats()).toEqual({ queued: 5, delivered: 0, dropped: { queue_full: 7, rejected: 0 } })
    await stop()
    expect(b.delivered()).toEqual(sent.slice(7))
  })

  it("drops a batch the backend refuses with a 4xx, counts it, and never sends it again", async () => {
    const b = await backend((_req, res, n) => (n === 1 ? res.writeHead(400, "Bad Request").end() : res.writeHead(200).end()))
    const { recordAll, shipping, problems } = await ship(b.port, { batchSize: 2, intervalMs: 60_000 })
    const sent = records(4)
    await recordAll(sent.slice(0, 2))
    await eventually(() => expect(shipping.stats().dropped.rejected).toBe(2))
    await recordAll(sent.slice(2))
    await eventually(() => expect(shipping.stats().delivered).toBe(2))
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(b.seen.map((s) => s.body.records)).toEqual([sent.slice(0, 2), sent.slice(2)])
    expect(problems).toEqual([{ kind: "rejected", records: 2, detail: "400 Bad Request" }])
  })

  it("never tells a record's content or the token when a delivery fails, even when the backend echoes them", async () => {
    const b = await backend((req, res) => res.writeHead(500, `echo ${req.headers.authorization}`).end(JSON.stringify({ got: "tool_0" })))
    const { recordAll, problems } = await ship(b.port)
    await recordAll(records(1))
    await eventually(() => expect(problems.length).toBeGreaterThan(0))
    const told = JSON.stringify(problems)
    expect(told).not.toContain(TOKEN)
    expect(told).not.toContain("tool_0")
    expect(problems[0]).toMatchObject({ kind: "unavailable", records: 1 })
  })

  it("gives up its last deliveries when the DTMA stops and the backend does not answer, within the bound it was given", async () => {
    const b = await backend(() => undefined)
    const { recordAll, stop, shipping } = await ship(b.port, { intervalMs: 60_000, timeoutMs: 5_000, finalFlushMs: 200 })
    await recordAll(records(2))
    const started = Date.now()
    await stop()
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(shipping.stats().delivered).toBe(0)
  })
})
