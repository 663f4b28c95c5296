import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"

const run = promisify(execFile)

/** Filesystems that keep nothing once unmounted or rebooted; everything else counts as disk. */
const MEMORY_FILESYSTEMS = new Set(["tmpfs", "ramfs"])
/** Layers of other filesystems (a container's merged root): their files are scanned where they live. */
const STACKED_FILESYSTEMS = new Set(["overlayfs", "overlay", "proc", "sysfs", "nsfs", "devpts", "cgroup", "cgroup2"])

export interface ScanHit {
  readonly path: string
  /** Indexes into the scanned `tokens`. */
  readonly tokens: ReadonlyArray<number>
}

export interface DiskScan {
  /** The roots scanned, with their filesystem; roots not on a disk were left out (listed in `notDisk`). */
  readonly roots: ReadonlyArray<{ readonly root: string; readonly filesystem: string }>
  readonly notDisk: ReadonlyArray<{ readonly root: string; readonly filesystem: string }>
  readonly files: number
  readonly bytes: number
  /** Files over `maxBytes`, not read (node binaries of image layers). */
  readonly tooLarge: ReadonlyArray<{ readonly path: string; readonly bytes: number }>
  readonly hits: ReadonlyArray<ScanHit>
}

export interface ScanOptions {
  /** Only files whose status changed after this file's (a marker made before the first token existed). */
  readonly changedSince?: string
  /** Default 50 MiB. */
  readonly maxBytes?: number
}

const filesystemOf = async (root: string): Promise<string> => (await run("stat", ["-f", "-c", "%T", root], { encoding: "utf8" })).stdout.trim()

/** Which tokens a file holds, read whole. */
const tokensIn = (path: string, tokens: ReadonlyArray<string>): ReadonlyArray<number> => {
  try {
    const content = readFileSync(path)
    return tokens.flatMap((t, i) => (content.includes(t) ? [i] : []))
  } catch {
    return []
  }
}

/**
 * Looks for every token, byte for byte, in every regular file under `roots` that sits on a
 * disk-backed filesystem (`find -xdev`: a tmpfs or a container's overlay mounted below a root is not
 * entered), with `grep -F`. The token list is kept on /dev/shm so the scan itself writes none to disk.
 */
export const scanDisk = async (roots: ReadonlyArray<string>, tokens: ReadonlyArray<string>, options: ScanOptions = {}): Promise<DiskScan> => {
  const maxBytes = options.maxBytes ?? 50 * 1024 * 1024
  const scanned: Array<{ root: string; filesystem: string }> = []
  const notDisk: Array<{ root: string; filesystem: string }> = []
  for (const root of roots.filter((r) => existsSync(r))) {
    const filesystem = await filesystemOf(root)
    if (MEMORY_FILESYSTEMS.has(filesystem) || STACKED_FILESYSTEMS.has(filesystem)) notDisk.push({ root, filesystem })
    else scanned.push({ root, filesystem })
  }
  const newer = options.changedSince === undefined ? [] : ["-cnewer", options.changedSince]
  const listed: Array<{ path: string; bytes: number }> = []
  for (const { root } of scanned) {
    const { stdout } = await run("find", [root, "-xdev", "-type", "f", ...newer, "-printf", "%s\\t%p\\0"], {
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
    }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }))
    for (const entry of stdout.split("\0").filter(Boolean)) {
      const tab = entry.indexOf("\t")
      listed.push({ bytes: Number(entry.slice(0, tab)), path: entry.slice(tab + 1) })
    }
  }
  const read = listed.filter((f) => f.bytes <= maxBytes)
  const work = mkdtempSync("/dev/shm/dtma-scan-")
  try {
    writeFileSync(join(work, "tokens"), tokens.join("\n"), { mode: 0o600 })
    writeFileSync(join(work, "files"), read.map((f) => f.path).join("\0"))
    // xargs answers 123 when some grep found nothing (1) or met a file that vanished (2): both fine.
    const found =
      tokens.length === 0 || read.length === 0
        ? ""
        : await run("xargs", ["-0", "-r", "-a", join(work, "files"), "grep", "-lF", "-s", "-D", "skip", "-f", join(work, "tokens"), "--"], {
            encoding: "utf8",
            maxBuffer: 64 * 1024 * 1024,
          }).then(
            (r) => r.stdout,
            (e: { code?: number; stdout?: string }) => {
              if (e.code !== 123) throw new Error(`the scan failed: ${String(e)}`)
              return e.stdout ?? ""
            },
          )
    const hits = found
      .split("\n")
      .filter(Boolean)
      .map((path) => ({ path, tokens: tokensIn(path, tokens) }))
      .filter((h) => h.tokens.length > 0)
    return {
      roots: scanned,
      notDisk,
      files: read.length,
      bytes: read.reduce((sum, f) => sum + f.bytes, 0),
      tooLarge: listed.filter((f) => f.bytes > maxBytes),
      hits,
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** Which tokens a text holds (a log, an API body, `docker inspect` output). */
export const tokensInText = (text: string, tokens: ReadonlyArray<string>): ReadonlyArray<number> => tokens.flatMap((t, i) => (text.includes(t) ? [i] : []))

/** Docker's data root, from the engine. */
export const dockerRootDir = async (): Promise<string> => (await run("docker", ["info", "-f", "{{.DockerRootDir}}"], { encoding: "utf8" })).stdout.trim()

/** A marker for `changedSince`: status-changed files after now. Lives on /dev/shm. */
export const scanMarker = (): { readonly path: string; remove(): void } => {
  const dir = mkdtempSync("/dev/shm/dtma-mark-")
  const path = join(dir, "since")
  writeFileSync(path, "")
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface HitContext {
  /** Which server (by any key) a token was minted for; undefined: not one of the run's. */
  readonly ownerOf: (token: string) => string | undefined
  /** The server whose tokens Docker keeps by design (`env_vars`). */
  readonly envMethod: string
  /** Path prefixes of Docker's own records (container configs, containerd's metadata and bundles). */
  readonly dockerRecords: ReadonlyArray<string>
}

/**
 * Where the scan found tokens, sorted out: `env_vars` tokens may sit in Docker's records (the
 * documented exception); everything else is a leak. What a server prints, tokens included (the tests
 * ask servers to return theirs in tool results, which a stdio server writes on stdout), is no
 * exception: MCP servers run without a Docker log, so none of it may reach the disk.
 */
export const sortHits = (hits: ReadonlyArray<{ readonly path: string; readonly tokens: ReadonlyArray<string> }>, context: HitContext) => {
  const envRecords: Array<string> = []
  const leaks: Array<string> = []
  for (const { path, tokens } of hits) {
    const owners = [...new Set(tokens.map(context.ownerOf))]
    if (owners.every((o) => o === context.envMethod) && context.dockerRecords.some((prefix) => path.startsWith(prefix))) envRecords.push(path)
    else leaks.push(`${path}: tokens of ${owners.join(", ")}`)
  }
  return { envRecords, leaks }
}
