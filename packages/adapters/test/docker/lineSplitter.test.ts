import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { makeLineSplitter, type LineEvent } from "../../src/docker/lineSplitter.ts"

const MAX = 8
const arbLine = fc.oneof(fc.string({ maxLength: 12 }), fc.stringMatching(/^[a-z\u00e9\u4e2d]{0,12}$/)).map((s) => s.replaceAll("\n", ""))

/** The oracle: every `\n`-terminated line, or notice of one longer than the bound. */
const expected = (lines: ReadonlyArray<string>): Array<LineEvent> =>
  lines.map((line) =>
    Buffer.byteLength(line) > MAX ? { _tag: "Oversized", maxLineBytes: MAX } : { _tag: "Line", text: line.endsWith("\r") ? line.slice(0, -1) : line },
  )

describe("the line splitter", () => {
  it("yields each line once, with multi-byte characters intact, however the bytes are chunked", () => {
    fc.assert(
      fc.property(fc.array(arbLine, { maxLength: 10 }), fc.array(fc.nat({ max: 200 }), { maxLength: 10 }), (lines, cuts) => {
        const data = Buffer.from(lines.map((l) => `${l}\n`).join(""))
        const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
        const splitter = makeLineSplitter({ maxLineBytes: MAX })
        const events = [0, ...points].flatMap((start, i) => splitter.push(data.subarray(start, points[i] ?? data.length)))
        expect(events).toEqual(expected(lines))
        expect(splitter.end()).toEqual([])
      }),
    )
  })

  it("reports a line over the bound as soon as it passes it, and skips the rest of it", () => {
    const splitter = makeLineSplitter({ maxLineBytes: 4 })
    expect(splitter.push(Buffer.from("abcdef"))).toEqual([{ _tag: "Oversized", maxLineBytes: 4 }])
    expect(splitter.push(Buffer.from("ghij"))).toEqual([])
    expect(splitter.push(Buffer.from("kl\nok\n"))).toEqual([{ _tag: "Line", text: "ok" }])
  })

  it("strips a carriage return before the newline and gives the unterminated last line at the end", () => {
    const splitter = makeLineSplitter({ maxLineBytes: 100 })
    expect(splitter.push(Buffer.from("one\r\ntwo"))).toEqual([{ _tag: "Line", text: "one" }])
    expect(splitter.end()).toEqual([{ _tag: "Line", text: "two" }])
  })
})
