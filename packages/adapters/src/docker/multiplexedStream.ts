/** Which stream a piece of a multiplexed Docker stream belongs to (header byte 0: 0, 1, 2, 3). */
export type StreamKind = "stdin" | "stdout" | "stderr" | "system"

/** A piece of one frame's payload; a frame may arrive in several pieces. */
export interface StreamPiece {
  readonly stream: StreamKind
  readonly payload: Buffer
}

/** Splits Docker's multiplexed stream (attach and logs with `Tty: false`) chunk by chunk. */
export interface Demuxer {
  /** The payload bytes in the chunk, in order, each tagged with its stream. */
  push(chunk: Uint8Array): ReadonlyArray<StreamPiece>
}

const HEADER_BYTES = 8
const KINDS: ReadonlyArray<StreamKind> = ["stdin", "stdout", "stderr", "system"]
const kindOf = (byte: number): StreamKind => KINDS[byte] ?? "system"

/**
 * A demuxer for the 8-byte-header framing: type byte, three zero bytes, big-endian payload length.
 * Payloads are passed on as they arrive, so a large frame is never buffered whole.
 */
export const makeDemuxer = (): Demuxer => {
  let header = Buffer.alloc(0)
  let stream: StreamKind = "stdout"
  let remaining = 0
  return {
    push(chunk) {
      const pieces: Array<StreamPiece> = []
      let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      while (data.length > 0) {
        if (remaining === 0) {
          const need = HEADER_BYTES - header.length
          header = Buffer.concat([header, data.subarray(0, need)])
          data = data.subarray(need)
          if (header.length < HEADER_BYTES) break
          stream = kindOf(header.readUInt8(0))
          remaining = header.readUInt32BE(4)
          header = Buffer.alloc(0)
          continue
        }
        const take = Math.min(remaining, data.length)
        pieces.push({ stream, payload: data.subarray(0, take) })
        remaining -= take
        data = data.subarray(take)
      }
      return pieces
    },
  }
}

/** One frame of the multiplexed format: what Docker writes, for fakes and tests. */
export const encodeFrame = (stream: StreamKind, payload: Uint8Array | string): Buffer => {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload)
  const header = Buffer.alloc(HEADER_BYTES)
  header.writeUInt8(KINDS.indexOf(stream), 0)
  header.writeUInt32BE(body.length, 4)
  return Buffer.concat([header, body])
}
