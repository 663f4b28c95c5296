import { randomBytes } from "node:crypto"
import { chmod, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises"
import { basename, dirname, join } from "node:path"

const codeOf = (e: unknown): string | undefined => (typeof e === "object" && e !== null && "code" in e ? String(e.code) : undefined)

/**
 * The DTMA's state directory, made private: created 0700 if missing, and tightened to 0700 if it
 * lets group or others in (it holds the token signing key and the generated API key).
 */
export const ensurePrivateDirectory = async (dir: string): Promise<void> => {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  if (((await stat(dir)).mode & 0o077) !== 0) await chmod(dir, 0o700)
}

/**
 * Replaces `path` atomically with a file only its owner may read or write (0600): the content
 * goes to a temporary file in the same directory, flushed to disk, then renamed over the old one.
 * A reader, or a restart after a crash, finds the old file or the new one, never a torn one.
 */
export const writePrivateFile = async (path: string, content: string): Promise<void> => {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`)
  const handle = await open(temporary, "wx", 0o600)
  try {
    await handle.chmod(0o600)
    await handle.writeFile(content, "utf8")
    await handle.sync()
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

/** The file's text, or null when there is no file. Other errors are thrown. */
export const readIfPresent = async (path: string): Promise<string | null> => {
  try {
    return await readFile(path, "utf8")
  } catch (e) {
    if (codeOf(e) === "ENOENT") return null
    throw e
  }
}
