import * as Effect from "effect/Effect"
import {
  AuditLogUnreadable,
  limitOf,
  matchesAuditQuery,
  olderThanAsked,
  parseAuditRecord,
  type AuditLog,
  type AuditQuery,
  type AuditRecord,
} from "@dtma/domain"
import { ioDetail } from "../credentials/ioDetail.ts"
import { appendAuditText, auditFilesOf, endOf, ensureAuditDirectory, rotateAuditFiles } from "./auditFiles.ts"
import { linesNewestFirst } from "./linesNewestFirst.ts"

export const DEFAULT_AUDIT_LOG = "/var/log/dtma/audit.jsonl"
export const DEFAULT_AUDIT_MAX_BYTES = 50 * 1024 * 1024
export const DEFAULT_AUDIT_FILES = 5

export interface FileAuditLogOptions {
  /** The JSON lines file (`DTMA_AUDIT_LOG`). */
  readonly path: string
  /** Past this size the file is rotated (`DTMA_AUDIT_LOG_MAX_BYTES`); no file grows beyond it but by one record longer than it. */
  readonly maxBytes?: number
  /** Rotated files kept, `.1` (newest) to `.<files>` (`DTMA_AUDIT_LOG_FILES`); at least 1. */
  readonly files?: number
  /** How long a record waits in memory for the records after it, to be written with them. */
  readonly flushDelayMs?: number
  /** Records waiting in memory at most; past it (the disk stalls) new ones are dropped and counted. */
  readonly maxBuffered?: number
  /** A write or rotation failed (told with the error's code and path, never a record). */
  readonly onProblem?: (problem: { readonly action: "write" | "read"; readonly detail: string }) => void
}

/** What the file log has in hand, for `/metrics`. */
export interface FileAuditLogStats {
  /** Records taken and not yet written. */
  readonly buffered: number
  /** Records that never reached the file: the buffer was full, or their write failed. */
  readonly dropped: number
}

export interface FileAuditLog extends AuditLog {
  /** Writes every record taken so far; resolves once they are in the file (or counted as dropped). Run at shutdown. */
  flush(): Promise<void>
  stats(): FileAuditLogStats
}

/**
 * The audit as JSON lines in a file, one record a line, appended in the order taken. `record` only
 * queues the line in memory; a timer writes what is queued a moment later, in one append, so a
 * request never waits for the disk. Files are rotated by size and read back newest first.
 */
export const makeFileAuditLog = (options: FileAuditLogOptions): FileAuditLog => {
  const maxBytes = Math.max(options.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES, 1)
  const files = Math.max(options.files ?? DEFAULT_AUDIT_FILES, 1)
  const flushDelayMs = options.flushDelayMs ?? 200
  const maxBuffered = options.maxBuffered ?? 10_000
  let pending: Array<string> = []
  let dropped = 0
  let timer: ReturnType<typeof setTimeout> | null = null
  /** Bytes in the current file, as this process knows it; null until read (or after a failure). */
  let size: number | null = null
  let directoryReady = false
  // Every write and every read runs after the one before: lines keep their order, and a rotation never happens under a reader.
  let serial: Promise<unknown> = Promise.resolve()
  const inTurn = <A>(task: () => Promise<A>): Promise<A> => {
    const turn = serial.then(task, task)
    serial = turn.catch(() => undefined)
    return turn
  }

  const write = async (lines: ReadonlyArray<string>): Promise<void> => {
    let piece = ""
    let pieceBytes = 0
    let pieceLines = 0
    let written = 0
    const appendPiece = async (): Promise<void> => {
      if (piece !== "") appendAuditText(options.path, piece)
      written += pieceLines
      size = (size ?? 0) + pieceBytes
      piece = ""
      pieceBytes = 0
      pieceLines = 0
    }
    try {
      if (!directoryReady) await ensureAuditDirectory(options.path)
      directoryReady = true
      if (size === null) {
        const end = await endOf(options.path)
        size = end.size
        if (end.torn) {
          piece = "\n"
          pieceBytes = 1
        }
      }
      for (const line of lines) {
        const bytes = Buffer.byteLength(line)
        if (size + pieceBytes + bytes > maxBytes && size + pieceBytes > 0) {
          await appendPiece()
          await rotateAuditFiles(options.path, files)
          size = 0
        }
        piece += line
        pieceBytes += bytes
        pieceLines += 1
      }
      await appendPiece()
    } catch (e) {
      size = null
      directoryReady = false
      dropped += lines.length - written
      options.onProblem?.({ action: "write", detail: ioDetail(e) })
    }
  }

  const flush = (): Promise<void> => {
    if (timer !== null) clearTimeout(timer)
    timer = null
    return inTurn(async () => {
      const lines = pending
      pending = []
      if (lines.length > 0) await write(lines)
    })
  }

  const read = async (query: AuditQuery): Promise<ReadonlyArray<AuditRecord>> => {
    const limit = limitOf(query)
    const found: Array<AuditRecord> = []
    for (const file of auditFilesOf(options.path, files)) {
      for await (const line of linesNewestFirst(file)) {
        const record = recordOfLine(line)
        if (record === null) continue
        if (olderThanAsked(record, query)) return found
        if (matchesAuditQuery(record, query)) found.push(record)
        if (found.length >= limit) return found
      }
    }
    return found
  }

  return {
    record: (record) =>
      Effect.sync(() => {
        if (pending.length >= maxBuffered) {
          dropped += 1
          return
        }
        pending.push(`${JSON.stringify(record)}\n`)
        if (timer === null) {
          timer = setTimeout(() => void flush(), flushDelayMs)
          timer.unref()
        }
      }),
    query: (query) =>
      Effect.tryPromise({
        try: async () => {
          await flush()
          return await inTurn(() => read(query))
        },
        catch: (e) => {
          options.onProblem?.({ action: "read", detail: ioDetail(e) })
          return new AuditLogUnreadable({ detail: ioDetail(e) })
        },
      }),
    flush,
    stats: () => ({ buffered: pending.length, dropped }),
  }
}

const recordOfLine = (line: string): AuditRecord | null => {
  try {
    return parseAuditRecord(JSON.parse(line))
  } catch {
    return null
  }
}
