import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encodeFrame, makeDemuxer, type StreamKind } from "../../src/docker/multiplexedStream.ts"

const arbFrames = fc.array(fc.record({ stream: fc.constantFrom<StreamKind>("stdout", "stderr"), payload: fc.uint8Array({ maxLength: 64 }) }), { maxLength: 12 })

/** Cuts a buffer at the given fractions of its length. */
const cut = (data: Buffer, at: ReadonlyArray<number>): Array<Buffer> => {
  const points = [...new Set(at.map((f) => Math.floor(f * data.length)))].sort((a, b) => a - b)
  return [0, ...points].map((start, i) => data.subarray(start, points[i] ?? data.length))
}

const bytesOf = (stream: StreamKind, pieces: ReadonlyArray<{ stream: StreamKind; payload: Uint8Array }>): Buffer =>
  Buffer.concat(pieces.filter((p) => p.stream === stream).map((p) => p.payload))

describe("the multiplexed stream demuxer", () => {
  it("gives back each stream's bytes, in order, however the stream is cut into chunks", () => {
    fc.assert(
      fc.property(arbFrames, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }), (frames, at) => {
        const demuxer = makeDemuxer()
        const pieces = cut(Buffer.concat(frames.map((f) => encodeFrame(f.stream, f.payload))), at).flatMap((chunk) => demuxer.push(chunk))
        for (const stream of ["stdout", "stderr"] as const) expect(bytesOf(stream, pieces)).toEqual(bytesOf(stream, frames))
      }),
    )
  })

  it("passes a frame's payload on before the frame is complete", () => {
    const frame = encodeFrame("stdout", "hello world")
    const demuxer = makeDemuxer()
    expect(demuxer.push(frame.subarray(0, 13))).toEqual([{ stream: "stdout", payload: Buffer.from("hello") }])
    expect(demuxer.push(frame.subarray(13))).toEqual([{ stream: "stdout", payload: Buffer.from(" world") }])
  })

  it("reads the header as Docker writes it: type, three zero bytes, big-endian length", () => {
    expect([...encodeFrame("stderr", "ab")]).toEqual([2, 0, 0, 0, 0, 0, 0, 2, 0x61, 0x62])
    expect(makeDemuxer().push(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 0x21]))).toEqual([{ stream: "stderr", payload: Buffer.from("!") }])
  })
})
