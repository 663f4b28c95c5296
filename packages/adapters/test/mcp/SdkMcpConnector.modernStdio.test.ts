import { type Duplex, Writable } from "node:stream"
import { afterEach, describe, expect, it } from "vitest"
import { McpServer } from "@modelcontextprotocol/server"
import { serveStdio, StdioServerTransport } from "@modelcontextprotocol/server/stdio"
import { Effect } from "effect"
import { discover, openUpstreamSession, type JsonRpcMessage } from "@dtma/domain"
import { run } from "@dtma/testing"
import { encodeFrame } from "../../src/docker/multiplexedStream.ts"
import { makeSdkMcpConnector } from "../../src/mcp/SdkMcpConnector.ts"
import { createBody, FakeDockerApi } from "../docker/FakeDockerApi.ts"
import { v2UpstreamOptions } from "./upstreamOptions.ts"

// The v2 SDK's stdio entry (`serveStdio`) behind a container's attach stream: with `legacy: "reject"`
// it speaks only 2026-07-28 (it refuses `initialize` and stays open); by default it is dual-era.

const handles: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const h of handles.splice(0)) await h.close().catch(() => undefined)
})

const serveIn = (container: Duplex, legacy: "serve" | "reject"): void => {
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      container.write(encodeFrame("stdout", chunk), done)
    },
  })
  const factory = () => {
    const server = new McpServer({ name: "v2-stdio", version: "2.3.1" }, { capabilities: { tools: {} } })
    server.registerTool("echo", { description: "echo" }, async () => ({ content: [{ type: "text", text: "echoed" }] }))
    return server
  }
  handles.push(serveStdio(factory, { legacy, transport: new StdioServerTransport(container, stdout) }))
}

const open = (legacy: "serve" | "reject", sent: Array<JsonRpcMessage>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const docker = new FakeDockerApi()
      docker.images.add("img")
      const signal = new AbortController().signal
      const body = createBody
      const id = yield* Effect.promise(async () => {
        const created = await docker.createContainer(body, signal)
        await docker.startContainer(created, signal)
        return created
      })
      docker.onAttach = (_id, container) => serveIn(container, legacy)
      const channel = yield* makeSdkMcpConnector({ docker }).connect({ transport: "stdio", containerId: id, endpoint: null }, { timeoutMs: 2_000 })
      const send = channel.send.bind(channel)
      const recording = { ...channel, send: (m: JsonRpcMessage) => (sent.push(m), send(m)) }
      const session = yield* openUpstreamSession(recording, v2UpstreamOptions)
      const snapshot = yield* discover(session, { timeoutMs: 2_000, now: "2026-12-02T00:00:00.000Z" })
      const call = yield* session.forward("s", { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "echo", arguments: {} } }, { timeoutMs: 2_000 })
      return { hello: session.hello, tools: snapshot.tools.map((t) => t["name"]), call }
    }),
  )

const methods = (sent: Array<JsonRpcMessage>) => sent.map((m) => ("method" in m ? m.method : "response"))

describe("the upstream session over a stdio attach stream, to the v2 SDK's serveStdio", () => {
  it("opens a server that speaks only 2026-07-28 on the modern wire, after its refusal of initialize", async () => {
    const sent: Array<JsonRpcMessage> = []
    const opened = await run(open("reject", sent))
    expect(opened.hello).toMatchObject({ protocolVersion: "2026-07-28", serverInfo: { name: "v2-stdio", version: "2.3.1" } })
    expect(opened.tools).toEqual(["echo"])
    expect(opened.call).toEqual({ jsonrpc: "2.0", id: 3, result: { content: [{ type: "text", text: "echoed" }] } })
    expect(methods(sent).slice(0, 2)).toEqual(["initialize", "server/discover"])
    expect(methods(sent)).not.toContain("notifications/initialized")
  })

  it("keeps a dual-era server on the 2025-era wire: initialize answered, no probe", async () => {
    const sent: Array<JsonRpcMessage> = []
    const opened = await run(open("serve", sent))
    expect(opened.hello).toMatchObject({ protocolVersion: "2025-11-25", serverInfo: { name: "v2-stdio" } })
    expect(opened.call).toMatchObject({ id: 3, result: { content: [{ type: "text", text: "echoed" }] } })
    expect(methods(sent)).not.toContain("server/discover")
    expect(sent.every((m) => !JSON.stringify(m).includes("io.modelcontextprotocol/protocolVersion"))).toBe(true)
  })
})
