import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { linesNewestFirst } from "../../src/audit/linesNewestFirst.ts"

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dtma-lines-"))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const collect = async (path: string, chunk?: number): Promise<Array<string>> => {
  const lines: Array<string> = []
  for await (const line of linesNewestFirst(path, chunk)) lines.push(line)
  return lines
}

describe("linesNewestFirst", () => {
  it("gives a file's non-empty lines last first, whatever the chunk size and the characters (multi-byte ones across chunks)", async () => {
    let n = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: fc.constantFrom("a", "é", "😀", "{", '"', " ", "\n"), maxLength: 40 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 50 }),
        fc.boolean(),
        async (texts, chunk, trailingNewline) => {
          const path = join(dir, `f${n++}`)
          const content = texts.join("\n") + (trailingNewline ? "\n" : "")
          await writeFile(path, content)
          const expected = content
            .split("\n")
            .filter((l) => l !== "")
            .reverse()
          expect(await collect(path, chunk)).toEqual(expected)
        },
      ),
      { numRuns: 200 },
    )
  })

  it("has no lines for a missing file", async () => {
    expect(await collect(join(dir, "missing"))).toEqual([])
  })

  it("stops reading when the reader stops asking", async () => {
    const path = join(dir, "big")
    await writeFile(path, Array.from({ length: 10_000 }, (_, i) => `line ${i}`).join("\n"))
    const first: Array<string> = []
    for await (const line of linesNewestFirst(path, 16)) {
      first.push(line)
      if (first.length === 3) break
    }
    expect(first).toEqual(["line 9999", "line 9998", "line 9997"])
  })
})
