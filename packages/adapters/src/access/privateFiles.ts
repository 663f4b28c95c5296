import { chmod, mkdir, readFile, stat } from "node:fs/promises"
import { replaceFileAtomically } from "../files/replaceFileAtomically.ts"

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
export const writePrivateFile = (path: string, content: string): Promise<void> => replaceFileAtomically(path, content, { mode: 0o600, sync: true })

/** The file's text, or null when there is no file. Other errors are thrown. */
export const readIfPresent = async (path: string): Promise<string | null> => {
  try {
    return await readFile(path, "utf8")
  } catch (e) {
    if (codeOf(e) === "ENOENT") return null
    throw e
  }
}
