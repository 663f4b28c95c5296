import { createServer, type Server } from "node:http"
import { chmod, chown, unlink } from "node:fs/promises"
import type { ContainerOwner, OAuthCredential } from "@dtma/domain"
import { MAX_SOCKET_PATH } from "./deliveryPaths.ts"
import { socketAnswerOf } from "./socketAnswer.ts"

export interface CredentialSocketOptions {
  readonly path: string
  readonly owner: ContainerOwner
  /** The instance's credentials now: read on every request, so a publish shows on the next read. */
  readonly credentials: () => ReadonlyArray<OAuthCredential>
  /** A failure after listening (the socket broke, an answer could not be written). Never a token. */
  readonly onError: (detail: string) => void
}

export interface CredentialSocket {
  /** Stops listening and drops open connections; the socket file goes with it. */
  close(): Promise<void>
}

/**
 * An HTTP server on a Unix socket at `path` (0600, owned by `owner`) answering `socketAnswerOf`.
 * A stale socket file (a previous DTMA's, dead) is removed first.
 */
export const listenCredentialSocket = async (options: CredentialSocketOptions): Promise<CredentialSocket> => {
  const { path, owner } = options
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw Object.assign(new Error("socket path too long"), { code: "ENAMETOOLONG", syscall: "listen", path })
  const server = createServer((req, res) => {
    const answer = socketAnswerOf(req.method ?? "GET", req.url ?? "/", options.credentials())
    res.writeHead(answer.status, { "content-type": "application/json", "cache-control": "no-store", ...answer.headers })
    res.end(JSON.stringify(answer.body))
  })
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e
  })
  await listen(server, path)
  server.on("error", (e: NodeJS.ErrnoException) => options.onError(`credential socket ${path}: ${e.code ?? e.message}`))
  server.on("clientError", (_e, socket) => socket.destroy())
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  try {
    await chmod(path, 0o600)
    await chown(path, owner.uid, owner.gid)
  } catch (e) {
    await close()
    throw e
  }
  return { close }
}

const listen = (server: Server, path: string): Promise<void> =>
  new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(path, () => {
      server.off("error", reject)
      resolve()
    })
  })
