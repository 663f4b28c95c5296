import { createHash } from "node:crypto"
import { join } from "node:path"

/** Host paths of one instance's deliveries under the delivery root. */
export interface DeliveryPaths {
  /** Bind-mounted at `/run/secrets/dtma` (`mounted_secrets`). */
  readonly secrets: string
  /** Bind-mounted at `/run/dtma` (`runtime_api`); holds the socket. */
  readonly sockets: string
  readonly socket: string
  /** Records the instance's name outside anything mounted, so a restarted DTMA can find it. */
  readonly index: string
}

/**
 * One path segment per instance name, whatever the name holds (spaces, slashes, dots): a readable
 * slug plus a hash of the whole name, so distinct names never share a directory. Short enough that
 * the socket path stays within the 107 bytes a Unix socket allows under a short root.
 */
export const instanceDirOf = (name: string): string => {
  const slug = name
    .replace(/[^A-Za-z0-9_.-]+/g, "_")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 20)
  const hash = createHash("sha256").update(name, "utf8").digest("hex").slice(0, 16)
  return `${slug === "" ? "instance" : slug}-${hash}`
}

export const SOCKET_FILE = "credentials.sock"

/** Where an instance's credentials live on the host. */
export const deliveryPathsOf = (root: string, name: string): DeliveryPaths => {
  const dir = instanceDirOf(name)
  const sockets = join(root, "sockets", dir)
  return { secrets: join(root, "secrets", dir), sockets, socket: join(sockets, SOCKET_FILE), index: join(root, "index", dir) }
}

/** The most bytes a Unix socket path may have on Linux (`sun_path` is 108 with its terminating NUL). */
export const MAX_SOCKET_PATH = 107
