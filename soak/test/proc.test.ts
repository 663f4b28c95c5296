import { once } from "node:events"
import { createConnection, createServer, type AddressInfo } from "node:net"
import { describe, expect, it } from "vitest"
import { fdsOf, socketKindsOf } from "../src/proc.ts"

describe("a process's sockets, from /proc", () => {
  it("names a listening socket and both ends of a loopback connection by port and state, and counts them among the fds", async () => {
    const before = fdsOf(process.pid)!
    const server = createServer()
    server.listen(0, "127.0.0.1")
    await once(server, "listening")
    const { port } = server.address() as AddressInfo
    const client = createConnection(port, "127.0.0.1")
    await once(client, "connect")
    try {
      const kinds = socketKindsOf(process.pid)
      expect(kinds[`tcp ${port} → 0 listen`]).toBe(1)
      expect(kinds[`tcp ${client.localPort} → ${port} established`]).toBe(1)
      expect(kinds[`tcp ${port} → ${client.localPort} established`]).toBe(1)
      expect(fdsOf(process.pid)!.sockets).toBeGreaterThanOrEqual(before.sockets + 3)
    } finally {
      client.destroy()
      server.close()
    }
  })
})
