import { describe, expect, it } from "vitest"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import type { JsonRpcMessage } from "@dtma/domain"
import { failureOf, run } from "@dtma/testing"
import { channelOf } from "../../src/mcp/transportChannel.ts"

/** A transport that records what the channel does to it and lets the test play the server. */
class RecordingTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: (message: JSONRPCMessage) => void
  readonly sent: Array<JSONRPCMessage> = []
  readonly versions: Array<string> = []
  closes = 0
  failSends: Error | null = null
  async start() {}
  async send(message: JSONRPCMessage) {
    if (this.failSends !== null) throw this.failSends
    this.sent.push(message)
  }
  async close() {
    this.closes += 1
    this.onclose?.()
  }
  setProtocolVersion(version: string) {
    this.versions.push(version)
  }
}

const initialize: JsonRpcMessage = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25" } }

describe("a channel over an SDK transport", () => {
  it("hands the protocol version of the initialize answer to the transport, and only that answer's", async () => {
    const transport = new RecordingTransport()
    const channel = channelOf(transport)
    channel.onMessage(() => undefined)
    await run(channel.send(initialize))
    transport.onmessage?.({ jsonrpc: "2.0", id: 2, result: { protocolVersion: "1999-01-01" } })
    transport.onmessage?.({ jsonrpc: "2.0", id: 1, result: { protocolVersion: "2025-06-18", capabilities: {} } })
    transport.onmessage?.({ jsonrpc: "2.0", id: 1, result: { protocolVersion: "2024-11-05" } })
    expect(transport.versions).toEqual(["2025-06-18"])
  })

  it("keeps messages that arrive before a receiver is set, and delivers them in order", () => {
    const transport = new RecordingTransport()
    const channel = channelOf(transport)
    transport.onmessage?.({ jsonrpc: "2.0", method: "notifications/message", params: { n: 1 } })
    transport.onmessage?.({ jsonrpc: "2.0", method: "notifications/message", params: { n: 2 } })
    const seen: Array<JsonRpcMessage> = []
    channel.onMessage((m) => seen.push(m))
    transport.onmessage?.({ jsonrpc: "2.0", method: "notifications/message", params: { n: 3 } })
    expect(seen.map((m) => ("params" in m ? m.params?.["n"] : null))).toEqual([1, 2, 3])
  })

  it("calls onClose once, with the server's reason, even when it is set after the close", async () => {
    const transport = new RecordingTransport()
    const channel = channelOf(transport)
    transport.onclose?.()
    transport.onclose?.()
    const reasons: Array<string> = []
    channel.onClose((r) => reasons.push(r))
    await run(channel.close())
    expect(reasons).toEqual(["the connection to the server closed"])
    expect(await failureOf(channel.send(initialize))).toMatchObject({ reason: "closed" })
  })

  it("closes the transport once however often it is closed, reporting the DTMA's close", async () => {
    const transport = new RecordingTransport()
    const channel = channelOf(transport)
    const reasons: Array<string> = []
    channel.onClose((r) => reasons.push(r))
    await Promise.all([run(channel.close()), run(channel.close())])
    await run(channel.close())
    expect(transport.closes).toBe(1)
    expect(reasons).toEqual(["closed by the DTMA"])
  })

  it("closes on a send failure the classifier calls fatal, and stays open on any other", async () => {
    const transport = new RecordingTransport()
    const channel = channelOf(transport, {
      sendFailure: (e) => ({ reason: "protocol", detail: String(e), fatal: e instanceof TypeError }),
    })
    transport.failSends = new Error("HTTP 400")
    expect(await failureOf(channel.send(initialize))).toMatchObject({ reason: "protocol" })
    expect(transport.closes).toBe(0)
    transport.failSends = new TypeError("fetch failed")
    await failureOf(channel.send(initialize))
    await expect.poll(() => transport.closes).toBe(1)
  })

  it("closes on a reported error the transport calls fatal, and passes every error on", async () => {
    const transport = new RecordingTransport()
    const errors: Array<string> = []
    const channel = channelOf(transport, { onError: (e) => errors.push(e.message), isFatal: (e) => e.message === "stream lost" })
    const reasons: Array<string> = []
    channel.onClose((r) => reasons.push(r))
    transport.onerror?.(new Error("bad line"))
    transport.onerror?.(new Error("stream lost"))
    await expect.poll(() => reasons).toEqual(["the connection failed: stream lost"])
    expect(errors).toEqual(["bad line", "stream lost"])
  })
})

describe("a channel's out-of-band errors", () => {
  it("are not passed on once the channel closes: what breaks then is the close itself", async () => {
    const transport = new RecordingTransport()
    const errors: Array<string> = []
    let release = () => undefined as void
    const channel = channelOf(transport, { onError: (e) => errors.push(e.message), beforeClose: () => new Promise<void>((resolve) => (release = resolve)) })
    transport.onerror?.(new Error("before"))
    const closing = run(channel.close())
    transport.onerror?.(new Error("SSE stream disconnected: AbortError: This operation was aborted"))
    release()
    await closing
    transport.onerror?.(new Error("after"))
    expect(errors).toEqual(["before"])
  })
})
