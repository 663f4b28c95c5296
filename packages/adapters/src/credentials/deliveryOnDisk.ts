import { chmod, chown, mkdir, rm } from "node:fs/promises"
import { dirname } from "node:path"
import {
  CredentialDeliveryFailed,
  SECRETS_DIR,
  SOCKET_DIR,
  type ContainerOwner,
  type DeliveryMount,
  type DeliveryProblem,
  type LiveInjectionMethod,
  type OAuthCredential,
} from "@dtma/domain"
import { deliveryPathsOf, type DeliveryPaths } from "./deliveryPaths.ts"
import { filesystemOf } from "./ensureMemoryBacked.ts"
import { writeIndex } from "./instanceIndex.ts"
import { ioDetail } from "./ioDetail.ts"
import { listenCredentialSocket, type CredentialSocket } from "./listenCredentialSocket.ts"
import { ownDirectory, writeSecretFiles } from "./writeSecretFiles.ts"

/** What this DTMA delivers to one instance, held in memory. */
export interface Delivery {
  readonly name: string
  readonly method: LiveInjectionMethod
  readonly paths: DeliveryPaths
  readonly owner: ContainerOwner
  credentials: ReadonlyArray<OAuthCredential>
  socket: CredentialSocket | null
}

export type Deliveries = Map<string, Delivery>
export type Report = (problem: { readonly name: string; readonly detail: string }) => void

export const failed = (name: string, reason: DeliveryProblem, detail: string): CredentialDeliveryFailed =>
  new CredentialDeliveryFailed({ name, reason, detail })

interface ProvisionContext {
  readonly root: string
  readonly allowDisk: boolean
  readonly deliveries: Deliveries
  readonly report: Report
}

interface ProvisionRequest {
  readonly name: string
  readonly method: LiveInjectionMethod
  readonly owner: ContainerOwner
  readonly credentials: ReadonlyArray<OAuthCredential>
}

/** Refuses a disk-backed root unless allowed; creates it (0700) if missing. */
const checkRoot = async (context: ProvisionContext, name: string): Promise<void> => {
  await mkdir(context.root, { recursive: true, mode: 0o700 })
  const filesystem = await filesystemOf(context.root)
  if (filesystem.memory || context.allowDisk) return
  throw failed(
    name,
    "not_memory_backed",
    `${context.root} is on ${filesystem.name}, not on memory (tmpfs or ramfs); set DTMA_CREDENTIALS_ALLOW_DISK=true to accept tokens on disk`,
  )
}

/**
 * Index first (so a crash mid-way leaves a trace the next start wipes), then the method's
 * directory, reused if it exists; the other method's directory goes. Any failure removes all of it.
 */
export const provisionOnDisk = async (context: ProvisionContext, request: ProvisionRequest): Promise<ReadonlyArray<DeliveryMount>> => {
  const { name, method, owner, credentials } = request
  await checkRoot(context, name).catch((e: unknown) => {
    throw e instanceof CredentialDeliveryFailed ? e : failed(name, "io_failed", `cannot check ${context.root}: ${ioDetail(e)}`)
  })
  const paths = deliveryPathsOf(context.root, name)
  const previous = context.deliveries.get(name)
  try {
    await writeIndex(paths.index, name)
    if (method === "mounted_secrets") {
      await previous?.socket?.close()
      context.deliveries.delete(name)
      await rm(paths.sockets, { recursive: true, force: true })
      await mkdir(dirname(paths.secrets), { recursive: true, mode: 0o700 })
      await writeSecretFiles(paths.secrets, credentials, owner)
      context.deliveries.set(name, { name, method, paths, owner, credentials, socket: null })
      return [{ hostPath: paths.secrets, containerPath: SECRETS_DIR }]
    }
    await rm(paths.secrets, { recursive: true, force: true })
    await mkdir(dirname(paths.sockets), { recursive: true, mode: 0o700 })
    await ownDirectory(paths.sockets, owner)
    const delivery: Delivery = { name, method, paths, owner, credentials, socket: previous?.socket ?? null }
    context.deliveries.set(name, delivery)
    if (delivery.socket === null) {
      const onError = (detail: string) => context.report({ name, detail })
      // Reads the map, not this object: a re-provision replaces the entry but keeps the server.
      const current = () => context.deliveries.get(name)?.credentials ?? []
      delivery.socket = await listenCredentialSocket({ path: paths.socket, owner, credentials: current, onError })
    } else {
      await chmod(paths.socket, 0o600)
      await chown(paths.socket, owner.uid, owner.gid)
    }
    return [{ hostPath: paths.sockets, containerPath: SOCKET_DIR }]
  } catch (e) {
    await removeFromDisk(paths, context.deliveries, name, context.report)
    throw failed(name, "io_failed", `cannot provision ${method}: ${ioDetail(e)}; nothing was left behind`)
  }
}

/** Files rewritten atomically (stale connections removed); the socket reads the new list at once. */
export const publishOnDisk = async (delivery: Delivery, credentials: ReadonlyArray<OAuthCredential>): Promise<void> => {
  if (delivery.method === "mounted_secrets") {
    await writeSecretFiles(delivery.paths.secrets, credentials, delivery.owner).catch((e: unknown) => {
      throw failed(delivery.name, "io_failed", `cannot replace the files: ${ioDetail(e)}`)
    })
  }
  delivery.credentials = credentials
}

/** Stops the socket, removes the directories, then the index entry; failures are reported, not thrown. */
export const removeFromDisk = async (paths: DeliveryPaths, deliveries: Deliveries, name: string, report: Report): Promise<void> => {
  const delivery = deliveries.get(name)
  deliveries.delete(name)
  await delivery?.socket?.close()
  for (const path of [paths.secrets, paths.sockets, paths.index]) {
    await rm(path, { recursive: true, force: true }).catch((e: unknown) => report({ name, detail: `cannot remove ${path}: ${ioDetail(e)}` }))
  }
}
