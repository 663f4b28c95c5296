import { createServer } from "node:net"

const tryListen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

/** A free loopback port below the ephemeral range (32768+), so it cannot collide with outgoing connections. */
export const freePort = async (): Promise<number> => {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (await tryListen(port)) return port
  }
  throw new Error("no free port between 20000 and 32000")
}
