import { open } from "node:fs/promises"

const CHUNK_BYTES = 64 * 1024
const NEWLINE = 0x0a

const codeOf = (e: unknown): string | undefined => (typeof e === "object" && e !== null && "code" in e ? String(e.code) : undefined)

/**
 * The file's lines, last first, read backwards a chunk at a time: a reader that wants the newest
 * few of a large file reads only its end. Empty lines are skipped; a missing file has no lines.
 * Lines are split on the newline byte, which never occurs inside a UTF-8 character.
 */
export async function* linesNewestFirst(path: string, chunkBytes = CHUNK_BYTES): AsyncGenerator<string> {
  let handle
  try {
    handle = await open(path, "r")
  } catch (e) {
    if (codeOf(e) === "ENOENT") return
    throw e
  }
  try {
    let position = (await handle.stat()).size
    // The bytes read so far that come before every newline seen: the start of a line not yet whole.
    let head: Buffer = Buffer.alloc(0)
    while (position > 0) {
      const length = Math.min(chunkBytes, position)
      position -= length
      const chunk = Buffer.alloc(length)
      await handle.read(chunk, 0, length, position)
      const bytes = Buffer.concat([chunk, head])
      let end = bytes.length
      for (let i = bytes.length - 1; i >= 0; i--) {
        if (bytes[i] !== NEWLINE) continue
        if (end > i + 1) yield bytes.toString("utf8", i + 1, end)
        end = i
      }
      head = bytes.subarray(0, end)
    }
    if (head.length > 0) yield head.toString("utf8")
  } finally {
    await handle.close()
  }
}
