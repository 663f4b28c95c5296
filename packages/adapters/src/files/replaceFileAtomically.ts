import { randomBytes } from "node:crypto"
import { open, rename, unlink } from "node:fs/promises"
import { basename, dirname, join } from "node:path"

export interface AtomicReplace {
  /** The new file's mode, set before any content is written. */
  readonly mode: number
  /** Its owner, when it is not the DTMA's user. */
  readonly owner?: { readonly uid: number; readonly gid: number }
  /** Flush the content to the disk before the rename (pointless on a memory-backed directory). */
  readonly sync: boolean
}

/**
 * Replaces `path` atomically: the content goes to a temporary file in the same directory, with its
 * mode and owner already set, which is then renamed over the old one. A reader, or a restart after
 * a crash, finds the old file or the new one, never a torn or empty one; the temporary file is
 * removed when anything fails.
 */
export const replaceFileAtomically = async (path: string, content: string, options: AtomicReplace): Promise<void> => {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`)
  const handle = await open(temporary, "wx", options.mode)
  try {
    await handle.chmod(options.mode)
    if (options.owner !== undefined) await handle.chown(options.owner.uid, options.owner.gid)
    await handle.writeFile(content, "utf8")
    if (options.sync) await handle.sync()
  } catch (e) {
    await handle.close()
    await unlink(temporary).catch(() => undefined)
    throw e
  }
  await handle.close()
  await rename(temporary, path).catch(async (e: unknown) => {
    await unlink(temporary).catch(() => undefined)
    throw e
  })
}
