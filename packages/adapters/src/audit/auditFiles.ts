import { closeSync, fchmodSync, fstatSync, openSync, writeSync } from "node:fs"
import { chmod, mkdir, open, rename } from "node:fs/promises"
import { dirname } from "node:path"

/** The audit file's mode: the owner writes, its group (an auditor) reads, nobody else. */
export const AUDIT_FILE_MODE = 0o640
/** The mode of a directory the DTMA makes for it. */
export const AUDIT_DIR_MODE = 0o750

const codeOf = (e: unknown): string | undefined => (typeof e === "object" && e !== null && "code" in e ? String(e.code) : undefined)

/** `audit.jsonl`, then `audit.jsonl.1` (the newest rotated) … `audit.jsonl.<files>`. */
export const auditFilesOf = (path: string, files: number): ReadonlyArray<string> => [path, ...Array.from({ length: files }, (_, i) => `${path}.${i + 1}`)]

/**
 * Makes the file's directory when it is missing, 0750. A directory that exists is left as it is:
 * it may be shared (`/var/log`), and the operator chose it.
 */
export const ensureAuditDirectory = async (path: string): Promise<void> => {
  const dir = dirname(path)
  const made = await mkdir(dir, { recursive: true, mode: AUDIT_DIR_MODE })
  if (made !== undefined) await chmod(dir, AUDIT_DIR_MODE)
}

/**
 * The file's size (0 when there is none yet), and whether its last line is torn (a write cut
 * short by a crash): the next line must then start on a line of its own.
 */
export const endOf = async (path: string): Promise<{ readonly size: number; readonly torn: boolean }> => {
  let handle
  try {
    handle = await open(path, "r")
  } catch (e) {
    if (codeOf(e) === "ENOENT") return { size: 0, torn: false }
    throw e
  }
  try {
    const { size } = await handle.stat()
    if (size === 0) return { size, torn: false }
    const last = Buffer.alloc(1)
    await handle.read(last, 0, 1, size - 1)
    return { size, torn: last[0] !== 0x0a }
  } finally {
    await handle.close()
  }
}

/**
 * Appends `text` to the file, creating it 0640; a file that lets its group write or others in is
 * narrowed to 0640 (a narrower mode the operator set is kept).
 *
 * Synchronous on purpose: one batch every 200 ms or so, a few syscalls into the page cache. Done
 * through the promise API, each batch took four trips through libuv's thread pool, and under load
 * (the stderr flood test: 8 MiB/s of output and 400 calls/s) the DTMA's peak RSS grew by 146 MiB
 * instead of 83 MiB without them.
 */
export const appendAuditText = (path: string, text: string): void => {
  const fd = openSync(path, "a", AUDIT_FILE_MODE)
  try {
    const { size, mode } = fstatSync(fd)
    if (size === 0 || (mode & 0o137) !== 0) fchmodSync(fd, AUDIT_FILE_MODE)
    writeSync(fd, text)
  } finally {
    closeSync(fd)
  }
}

/** `audit.jsonl` becomes `.1`, `.1` becomes `.2` …; what was `.<files>` is gone. */
export const rotateAuditFiles = async (path: string, files: number): Promise<void> => {
  const names = auditFilesOf(path, files)
  for (let i = names.length - 2; i >= 0; i--) {
    await rename(names[i]!, names[i + 1]!).catch((e: unknown) => {
      if (codeOf(e) !== "ENOENT") throw e
    })
  }
}
