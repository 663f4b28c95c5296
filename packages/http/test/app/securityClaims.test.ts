import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..", "..", "..", "..")

interface Claim {
  readonly id: string
  readonly text: string
  readonly tests: ReadonlyArray<{ readonly file: string; readonly title: string }>
  /** Entries that say no test checks this yet. */
  readonly pending: ReadonlyArray<string>
}

const ENTRY = /^`([^`]+)` "([^"]+)"$/

/** The rows of SECURITY.md's claims table: `| id | claim | entries |`, entries split by `<br>`. */
export const claimsOf = (markdown: string): ReadonlyArray<Claim> => {
  const start = markdown.indexOf("<!-- claims:start -->")
  const end = markdown.indexOf("<!-- claims:end -->")
  if (start < 0 || end < start) throw new Error("SECURITY.md has no claims table between <!-- claims:start --> and <!-- claims:end -->")
  const rows = markdown
    .slice(start, end)
    .split("\n")
    .filter((line) => line.startsWith("| "))
    .slice(1)
  return rows.map((row) => {
    const [id = "", text = "", checkedBy = ""] = row.slice(2, -2).split(" | ")
    const entries = checkedBy.split("<br>").map((e) => e.trim())
    const tests = entries.flatMap((e) => {
      const m = ENTRY.exec(e)
      return m === null ? [] : [{ file: m[1]!, title: m[2]! }]
    })
    return { id, text, tests, pending: entries.filter((e) => e.startsWith("pending:")) }
  })
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Whether `source` declares a test titled `title`: `it("…"`, `test("…"`, `it.runIf(…)("…"` and the like. */
export const declaresTest = (source: string, title: string): boolean => new RegExp(`\\b(?:it|test)\\b[^\\n]*?\\(\\s*"${escape(title)}"\\s*,`).test(source)

describe("SECURITY.md's claims table", () => {
  const claims = claimsOf(readFileSync(join(root, "SECURITY.md"), "utf8"))

  it("names at least one test, or says it is pending, for every claim, under a unique id", () => {
    expect(claims.length).toBeGreaterThanOrEqual(20)
    expect(new Set(claims.map((c) => c.id)).size).toBe(claims.length)
    for (const c of claims) {
      expect(c.text.length, `${c.id}`).toBeGreaterThan(20)
      expect(c.tests.length + c.pending.length, `${c.id} names no test`).toBeGreaterThan(0)
    }
  })

  it("names only tests that exist, each in the file it names", () => {
    const missing = claims.flatMap((c) =>
      c.tests
        .filter(({ file, title }) => !existsSync(join(root, file)) || !declaresTest(readFileSync(join(root, file), "utf8"), title))
        .map((t) => `${c.id}: ${t.file} "${t.title}"`),
    )
    expect(missing).toEqual([])
  })

  it("reads test declarations the way they are written, and no other text", () => {
    expect(declaresTest('  it("refuses x", async () => {', "refuses x")).toBe(true)
    expect(declaresTest('test("refuses x", () => {', "refuses x")).toBe(true)
    expect(declaresTest('  it.runIf(process.getuid?.() === 0)("refuses x", async () => {', "refuses x")).toBe(true)
    expect(declaresTest('  it("refuses x and y", async () => {', "refuses x")).toBe(false)
    expect(declaresTest('// "refuses x", said a comment', "refuses x")).toBe(false)
    expect(declaresTest('describe("refuses x", () => {', "refuses x")).toBe(false)
  })
})
