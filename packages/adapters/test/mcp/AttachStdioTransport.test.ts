/* oxlint-disable unicorn/prefer-add-event-listener -- the SDK's Transport has callback properties, not events */
import { Duplex, duplexPair } from "node:stream"
import fc from "fast-check"
import { afterEach, describe, expect, it } from "vitest"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import { encodeFrame } from "../../src/docker/multiplexedStream.ts"
import { AttachStdioTransport, type StdioFramingError } from "../../src/mcp/AttachStdioTransport.ts"

/** A transport over one end of a pipe; the other end plays the container. */
const attached = async (maxLineBytes = 1024) => {
  const [ours, container] = duplexPair()
  const transport = new AttachStdioTransport(ours, { maxLineBytes })
  const messages: Array<JSONRPCMessage> = []
  const errors: Array<Error> = []
  let closes = 0
  transport.onmessage = (m) => messages.push(m)
  transport.onerror = (e) => errors.push(e)
  transport.onclose = () => (closes += 1)
  await transport.start()
  opened.push(container)
  const stdin: Array<string> = []
  container.on("data", (chunk: Buffer) => stdin.push(chunk.toString("utf8")))
  return { transport, container, ours, messages, errors, stdin, closes: () => closes }
}
const opened: Array<Duplex> = []
const ping = { jsonrpc: "2.0", id: 1, method: "ping" } as const

describe("the stdio transport over a Docker attach stream", () => {
  afterEach(() => {
    for (const s of opened.splice(0)) s.destroy()
  })

  it("reads messages from stdout frames, however they are cut, and ignores stderr", async () => {
    const { container, messages } = await attached()
    const line = `${JSON.stringify({ jsonrpc: "2.0", id: 7, result: { ok: true } })}\n`
    container.write(encodeFrame("stderr", 'Starting server...\n{"jsonrpc":"2.0","id":99,"result":{}}\n'))
    const frame = encodeFrame("stdout", line + line)
    container.write(frame.subarray(0, 5))
    container.write(frame.subarray(5, 40))
    container.write(frame.subarray(40))
    await expect
      .poll(() => messages)
      .toEqual([
        { jsonrpc: "2.0", id: 7, result: { ok: true } },
        { jsonrpc: "2.0", id: 7, result: { ok: true } },
      ])
  })

  it("writes each message to stdin as one unframed line", async () => {
    const { transport, stdin } = await attached()
    await transport.send(ping)
    await expect.poll(() => stdin.join("")).toBe(`${JSON.stringify(ping)}\n`)
  })

  it("writes the messages sent in one turn of the event loop together, in one write", async () => {
    const writes: Array<string> = []
    const stream = new Duplex({
      read: () => undefined,
      writev: (chunks, done) => {
        writes.push(chunks.map((c) => String(c.chunk)).join(""))
        done()
      },
    })
    const transport = new AttachStdioTransport(stream)
    await transport.start()
    await Promise.all([transport.send(ping), transport.send({ ...ping, id: 2 })])
    await transport.send({ ...ping, id: 3 })
    expect(writes).toEqual([`${JSON.stringify(ping)}\n${JSON.stringify({ ...ping, id: 2 })}\n`, `${JSON.stringify({ ...ping, id: 3 })}\n`])
    stream.destroy()
  })

  it("writes every message sent, over any turns, whole and in the order sent, each send settled once its line is written", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.string({ maxLength: 300 }), { maxLength: 6 }), { maxLength: 6 }),
        fc.integer({ min: 1, max: 64 }),
        async (turns, highWaterMark) => {
          // A slow container: each write is taken a turn later, and the stream's buffer is small.
          const lines: Array<string> = []
          let pending = ""
          const stream = new Duplex({
            read: () => undefined,
            highWaterMark,
            write: (chunk: Buffer, _encoding, done) => {
              pending += chunk.toString("utf8")
              setImmediate(() => {
                const cut = pending.lastIndexOf("\n")
                lines.push(
                  ...pending
                    .slice(0, cut + 1)
                    .split("\n")
                    .slice(0, -1),
                )
                pending = pending.slice(cut + 1)
                done()
              })
            },
          })
          const transport = new AttachStdioTransport(stream)
          await transport.start()
          const sent: Array<Promise<void>> = []
          let id = 0
          for (const turn of turns) {
            for (const text of turn) {
              const message = { jsonrpc: "2.0" as const, id: ++id, method: "echo", params: { text } }
              const line = JSON.stringify(message)
              sent.push(transport.send(message).then(() => expect(lines).toContain(line)))
            }
            await new Promise((resolve) => setImmediate(resolve))
          }
          await Promise.all(sent)
          expect(lines.map((l) => (JSON.parse(l) as { id: number }).id)).toEqual(Array.from({ length: id }, (_, i) => i + 1))
          expect(lines).toEqual(turns.flat().map((text, i) => JSON.stringify({ jsonrpc: "2.0", id: i + 1, method: "echo", params: { text } })))
          stream.destroy()
        },
      ),
      { numRuns: 60 },
    )
  })

  it("writes what was sent before a close, in order, before it ends its side", async () => {
    const { transport, container, stdin } = await attached()
    let ended = false
    container.on("end", () => (ended = true))
    const sent = [transport.send(ping), transport.send({ ...ping, id: 2 })]
    await transport.close()
    await Promise.all(sent)
    await expect.poll(() => ended).toBe(true)
    expect(stdin.join("")).toBe(`${JSON.stringify(ping)}\n${JSON.stringify({ ...ping, id: 2 })}\n`)
  })

  it("rejects the sends of a turn whose write fails, and sends after it fail as closed", async () => {
    const stream = new Duplex({ read: () => undefined, write: (_chunk, _encoding, done) => done(new Error("EPIPE: the daemon went away")) })
    stream.on("error", () => undefined)
    const transport = new AttachStdioTransport(stream)
    transport.onerror = () => undefined
    await transport.start()
    const results = await Promise.allSettled([transport.send(ping), transport.send({ ...ping, id: 2 })])
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"])
    await expect(transport.send(ping)).rejects.toThrow("closed")
  })

  it("reports a bad line and a line over the bound, skips them, and keeps reading", async () => {
    const { container, messages, errors } = await attached(64)
    container.write(encodeFrame("stdout", `not json\n${"x".repeat(100)}\n{"jsonrpc":"2.0","method":"x","bogus":1}\n\n${JSON.stringify(ping)}\n`))
    await expect.poll(() => messages).toEqual([ping])
    expect(errors.map((e) => e.name)).toEqual(["StdioFramingError", "StdioFramingError", "StdioFramingError"])
    expect(errors[1]?.message).toContain("longer than 64 bytes")
    // Only the oversized line counts as a lost message.
    expect(errors.map((e) => (e as StdioFramingError).lost)).toEqual([false, true, false])
  })

  it("reports a bad stdout line by its size and kind, never repeating it or the parser's quote of it (a server can print its secrets there)", async () => {
    const { container, messages, errors } = await attached()
    const secret = "sk-live-0123456789abcdef"
    container.write(encodeFrame("stdout", `${secret}\n{"jsonrpc":"2.0","id":1,"token":"${secret}"}\n${JSON.stringify(ping)}\n`))
    await expect.poll(() => messages).toEqual([ping])
    expect(errors.map((e) => e.message)).toEqual([
      "skipped a stdout line of 24 bytes that is not JSON",
      `skipped a stdout line of ${35 + secret.length} bytes that is JSON but not a JSON-RPC message`,
    ])
    for (const e of errors) expect(e.message).not.toContain(secret.slice(0, 6))
  })

  it("accepts an error answer with a null id, as JSON-RPC sends for a request it could not parse", async () => {
    const { container, messages } = await attached()
    container.write(encodeFrame("stdout", '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}\n'))
    await expect.poll(() => messages).toEqual([{ jsonrpc: "2.0", error: { code: -32700, message: "Parse error" } }])
  })

  it("on close ends its side and drops the connection, calling onclose once", async () => {
    const { transport, container, ours, closes } = await attached()
    let ended = false
    container.on("end", () => (ended = true))
    await transport.close()
    await transport.close()
    await expect.poll(() => ended && ours.destroyed).toBe(true)
    expect(closes()).toBe(1)
    await expect(transport.send(ping)).rejects.toThrow("closed")
  })

  it("closes once when the container's side ends (the container exited)", async () => {
    const { container, closes } = await attached()
    container.end()
    await expect.poll(() => closes()).toBe(1)
    container.destroy()
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(closes()).toBe(1)
  })
})
