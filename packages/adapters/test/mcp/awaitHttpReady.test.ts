import { createServer, type Server, type Socket } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { awaitHttpReady, probeUrlOf } from "../../src/mcp/awaitHttpReady.ts"

const servers: Array<Server> = []
const sockets = new Set<Socket>()

/** A loopback TCP server that does what `onConnection` says with each connection; its port. */
const tcp = (onConnection: (socket: Socket) => void): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      onConnection(socket)
    })
    servers.push(server)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve(typeof address === "object" && address !== null ? address.port : 0)
    })
  })

const answer404 = (socket: Socket) => socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")

describe("waiting for a network server to answer HTTP", () => {
  afterEach(async () => {
    for (const s of sockets) s.destroy()
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
  })

  it("is not fooled by a proxy that accepts and resets, and is ready at the first HTTP answer, even a 404", async () => {
    let listening = false
    const port = await tcp((socket) => (listening ? answer404(socket) : socket.resetAndDestroy()))
    setTimeout(() => (listening = true), 300)
    const started = Date.now()
    expect(await awaitHttpReady(new URL(`http://127.0.0.1:${port}/mcp`), { deadline: Date.now() + 3_000, intervalMs: 20 })).toBeNull()
    expect(Date.now() - started).toBeGreaterThanOrEqual(250)
  })

  it("is ready on an event stream's headers without reading the stream", async () => {
    const port = await tcp((socket) => socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n: hello\n\n"))
    expect(await awaitHttpReady(new URL(`http://127.0.0.1:${port}/sse`), { deadline: Date.now() + 2_000 })).toBeNull()
  })

  it("calls a port nothing listens on unreachable, at the deadline", async () => {
    const port = await tcp(() => undefined)
    await new Promise((resolve) => servers.pop()?.close(resolve))
    const started = Date.now()
    const notReady = await awaitHttpReady(new URL(`http://127.0.0.1:${port}/`), { deadline: Date.now() + 300, intervalMs: 20 })
    expect(notReady).toMatchObject({ reason: "unreachable" })
    expect(Date.now() - started).toBeLessThan(800)
  })

  it("calls a server that accepts and never answers a timeout, at the deadline", async () => {
    const port = await tcp(() => undefined)
    const started = Date.now()
    expect(await awaitHttpReady(new URL(`http://127.0.0.1:${port}/`), { deadline: Date.now() + 300 })).toMatchObject({ reason: "timeout" })
    expect(Date.now() - started).toBeLessThan(800)
  })

  it("probes a WebSocket URL over HTTP", () => {
    expect(probeUrlOf(new URL("ws://127.0.0.1:8000/message")).href).toBe("http://127.0.0.1:8000/message")
    expect(probeUrlOf(new URL("wss://example.test/m")).href).toBe("https://example.test/m")
  })
})
