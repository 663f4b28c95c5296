import { request } from "node:http"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { join, relative } from "node:path"
import type { DeliveredView, SocketReply } from "@dtma/testing"
import { deliveryPathsOf } from "../../src/credentials/deliveryPaths.ts"

/** A fresh delivery root on /dev/shm (tmpfs here), so tests need no mount. */
export const shmRoot = (): Promise<string> => mkdtemp("/dev/shm/dtma-cd-")

export const removeRoot = (root: string): Promise<void> => rm(root, { recursive: true, force: true })

/** One HTTP request over a Unix socket, as a server in the container would make it. */
export const askSocket = (socketPath: string, path: string, method = "GET"): Promise<SocketReply> =>
  new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method, agent: false }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => (text += chunk))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }))
    })
    req.on("error", reject)
    req.end()
  })

const filesUnder = (dir: string): Record<string, string> => {
  if (!existsSync(dir)) return {}
  const walk = (at: string): ReadonlyArray<string> =>
    readdirSync(at).flatMap((entry) => (statSync(join(at, entry)).isDirectory() ? walk(join(at, entry)) : [join(at, entry)]))
  return Object.fromEntries(walk(dir).map((file) => [relative(dir, file), readFileSync(file, "utf8")]))
}

/** What the container of `name` would see through its bind mounts: the files and the socket on the host. */
export const seeOnHost = async (root: string, name: string): Promise<DeliveredView> => {
  const paths = deliveryPathsOf(root, name)
  return {
    files: filesUnder(paths.secrets),
    socket: existsSync(paths.socket) ? (path, method) => askSocket(paths.socket, path, method) : null,
  }
}
