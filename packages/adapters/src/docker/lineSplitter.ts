/** A complete line (without its `\n` and a trailing `\r`), or notice that one was too long and dropped. */
export type LineEvent = { readonly _tag: "Line"; readonly text: string } | { readonly _tag: "Oversized"; readonly maxLineBytes: number }

/** Cuts a byte stream into lines, chunk by chunk, with a bound on the memory a line may take. */
export interface LineSplitter {
  /** The lines the chunk completes, in order. */
  push(chunk: Uint8Array): ReadonlyArray<LineEvent>
  /** The last line when the stream ends without a final newline. */
  end(): ReadonlyArray<LineEvent>
}

const NEWLINE = 0x0a

/**
 * A splitter that holds at most `maxLineBytes` of a pending line: a longer line is reported once,
 * as soon as it passes the bound, and its bytes are skipped up to the next newline.
 */
export const makeLineSplitter = (options: { readonly maxLineBytes: number }): LineSplitter => {
  const max = options.maxLineBytes
  let pending: Array<Buffer> = []
  let pendingBytes = 0
  let skipping = false

  const line = (last: Buffer): LineEvent => {
    const text = Buffer.concat([...pending, last]).toString("utf8")
    pending = []
    pendingBytes = 0
    return { _tag: "Line", text: text.endsWith("\r") ? text.slice(0, -1) : text }
  }

  /** Adds bytes of the current line; says whether they made it too long just now. */
  const grow = (bytes: Buffer): boolean => {
    if (skipping) return false
    if (pendingBytes + bytes.length <= max) {
      if (bytes.length > 0) pending.push(bytes)
      pendingBytes += bytes.length
      return false
    }
    pending = []
    pendingBytes = 0
    skipping = true
    return true
  }

  return {
    push(chunk) {
      const events: Array<LineEvent> = []
      let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      for (let at = data.indexOf(NEWLINE); at >= 0; at = data.indexOf(NEWLINE)) {
        const head = data.subarray(0, at)
        data = data.subarray(at + 1)
        if (grow(head)) events.push({ _tag: "Oversized", maxLineBytes: max })
        else if (!skipping) events.push(line(Buffer.alloc(0)))
        skipping = false
      }
      if (grow(data)) events.push({ _tag: "Oversized", maxLineBytes: max })
      return events
    },
    end() {
      const done: ReadonlyArray<LineEvent> = !skipping && pendingBytes > 0 ? [line(Buffer.alloc(0))] : []
      pending = []
      pendingBytes = 0
      skipping = false
      return done
    },
  }
}
