import { createServer, type Server } from "node:http"
import { once } from "node:events"
import { describe, expect, it } from "vitest"
import { FETCH_BAD_PORTS } from "../../src/mcp/fetchBadPorts.ts"

/** Why fetch refused to call 127.0.0.1:`port` ("bad port"), or null when it tried (a refused connection is trying). */
const refusal = async (port: number): Promise<string | null> => {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) })
    return null
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message
    return cause === "bad port" ? cause : null
  }
}

/** A listening server on the first of `ports` that is free, or null. */
const listenOnOneOf = async (ports: ReadonlyArray<number>): Promise<{ server: Server; port: number; reached: () => boolean } | null> => {
  for (const port of ports) {
    let reached = false
    const server = createServer((_req, res) => {
      reached = true
      res.end("ok")
    }).on("upgrade", (_req, socket) => {
      reached = true
      socket.destroy()
    })
    server.listen(port, "127.0.0.1")
    const outcome = await Promise.race([once(server, "listening").then(() => "up" as const), once(server, "error").then(() => "busy" as const)])
    if (outcome === "up") return { server, port, reached: () => reached }
  }
  return null
}

describe("the host ports the DTMA's MCP client cannot call", () => {
  it("are exactly the ports this Node's fetch refuses: each listed one, and none of their neighbours", async () => {
    for (const port of FETCH_BAD_PORTS) expect(await refusal(port), `port ${port}`).toBe("bad port")
    const neighbours = [...new Set(FETCH_BAD_PORTS.flatMap((p) => [p - 1, p + 1]))].filter((p) => p >= 1 && !FETCH_BAD_PORTS.includes(p))
    for (const port of neighbours) expect(await refusal(port), `port ${port}`).toBeNull()
  })

  it("are refused by fetch and WebSocket before anything reaches a server listening there", async () => {
    const listening = await listenOnOneOf(FETCH_BAD_PORTS.filter((p) => p > 1024))
    if (listening === null) throw new Error("every unprivileged listed port is taken on this machine")
    try {
      expect(await refusal(listening.port)).toBe("bad port")
      const ws = new WebSocket(`ws://127.0.0.1:${listening.port}/`)
      const [event] = (await once(ws, "close")) as [CloseEvent]
      expect(event.code).toBe(1006)
      expect(listening.reached()).toBe(false)
    } finally {
      listening.server.close()
    }
  })
})
