import { execFile } from "node:child_process"
import { mkdir, statfs } from "node:fs/promises"
import * as Effect from "effect/Effect"
import { CredentialDeliveryFailed } from "@dtma/domain"
import { ioDetail } from "./ioDetail.ts"

const MEMORY_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x01021994, "tmpfs"],
  [0x858458f6, "ramfs"],
])
const DISK_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0xef53, "ext4"],
  [0x58465342, "xfs"],
  [0x9123683e, "btrfs"],
  [0x794c7630, "overlay"],
  [0x2fc12fc1, "zfs"],
])

/** The filesystem a directory is on, by `statfs` type. */
export const filesystemOf = async (dir: string): Promise<{ readonly name: string; readonly memory: boolean }> => {
  const { type } = await statfs(dir)
  const memory = MEMORY_FILESYSTEMS.get(type)
  if (memory !== undefined) return { name: memory, memory: true }
  return { name: DISK_FILESYSTEMS.get(type) ?? `filesystem 0x${type.toString(16)}`, memory: false }
}

export interface MemoryBackingOptions {
  readonly root: string
  /** Accept a disk-backed root (`DTMA_CREDENTIALS_ALLOW_DISK`): tokens may then reach a disk. */
  readonly allowDisk: boolean
  /** Mount a tmpfs on `root` when it is not memory-backed. Default: when running as root. */
  readonly mount?: boolean
}

export interface MemoryBacking {
  readonly root: string
  /** `tmpfs`, `ramfs`, or the disk filesystem accepted with `allowDisk`. */
  readonly filesystem: string
  /** This call mounted a tmpfs on `root`. */
  readonly mounted: boolean
  /** Set when `root` stays disk-backed because `allowDisk` accepted it: log it. Never a secret. */
  readonly warning: string | null
}

export const TMPFS_OPTIONS = "mode=0700,size=64m,nosuid,nodev,noexec"

const mountTmpfs = (root: string): Promise<string | null> =>
  new Promise((resolve) =>
    execFile("mount", ["-t", "tmpfs", "-o", TMPFS_OPTIONS, "tmpfs", root], { timeout: 10_000 }, (error, _stdout, stderr) =>
      resolve(error === null ? null : `${String(stderr).trim() || error.message}`),
    ),
  )

const isRoot = (): boolean => process.getuid?.() === 0

/**
 * Makes sure `root` is on memory (tmpfs or ramfs), so delivered tokens never touch a disk. When it
 * is not and `mount` allows, mounts a private tmpfs there (`mount -t tmpfs -o mode=0700,size=64m,
 * nosuid,nodev,noexec`) and checks again. Otherwise fails `not_memory_backed` naming the directory and
 * the escape hatch, unless `allowDisk`, which succeeds with a warning. Creates `root` (0700) if missing.
 */
export const ensureMemoryBacked = (options: MemoryBackingOptions): Effect.Effect<MemoryBacking, CredentialDeliveryFailed> =>
  Effect.tryPromise({
    try: async (): Promise<MemoryBacking | CredentialDeliveryFailed> => {
      const { root, allowDisk } = options
      await mkdir(root, { recursive: true, mode: 0o700 })
      const before = await filesystemOf(root)
      if (before.memory) return { root, filesystem: before.name, mounted: false, warning: null }
      let mountProblem = options.mount === false ? "mounting a tmpfs is disabled" : "the DTMA does not run as root, so it cannot mount a tmpfs"
      if (options.mount ?? isRoot()) {
        const failed = await mountTmpfs(root)
        const after = await filesystemOf(root)
        if (failed === null && after.memory) return { root, filesystem: after.name, mounted: true, warning: null }
        mountProblem = `mounting a tmpfs there failed: ${failed ?? `still ${after.name} after mount`}`
      }
      const where = `${root} is on ${before.name}, not on memory (tmpfs or ramfs), and ${mountProblem}`
      if (allowDisk) {
        return {
          root,
          filesystem: before.name,
          mounted: false,
          warning: `${where}; DTMA_CREDENTIALS_ALLOW_DISK is set, so OAuth tokens delivered as files or sockets may be written to disk`,
        }
      }
      return new CredentialDeliveryFailed({
        name: root,
        reason: "not_memory_backed",
        detail: `${where}. Mount a tmpfs on ${root}, run the DTMA as root so it mounts one, or set DTMA_CREDENTIALS_ALLOW_DISK=true to accept tokens on disk`,
      })
    },
    catch: (e) => new CredentialDeliveryFailed({ name: options.root, reason: "io_failed", detail: `cannot check ${options.root}: ${ioDetail(e)}` }),
  }).pipe(Effect.flatMap((result) => (result instanceof CredentialDeliveryFailed ? Effect.fail(result) : Effect.succeed(result))))
