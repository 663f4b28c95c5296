import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { DOCS_END, DOCS_START, renderReport, renderTable, updateDocs, type BenchResults } from "../report.ts"

const results: BenchResults = {
  command: "pnpm bench",
  startedAt: "2026-01-01T00:00:00.000Z",
  finishedAt: "2026-01-01T00:10:00.000Z",
  quick: false,
  machine: { cpuModel: "cpu", cores: 2, memoryGiB: 24, kernel: "6", os: "Debian", node: "v24", docker: "20.10", cgroup: "v1" },
  load: { start: { at: "", one: 0.5, five: 0.4, fifteen: 0.3 }, end: null },
  coldStart: null,
  callOverhead: null,
  agentEndpoint: null,
  discovery: null,
  discoveryPollers: 32,
  density: null,
  refresh: null,
  profile: null,
  failures: [],
}

describe("the bench report", () => {
  it("escapes pipes in cells", () => {
    expect(renderTable({ title: "t", header: ["a|b"], rows: [["x|y"]] })).toContain("| x\\|y |")
  })

  it("names the machine and its load at the start and the end", () => {
    const report = renderReport(results)
    expect(report).toContain("2 × cpu, 24 GiB")
    expect(report).toContain("0.5 / 0.4 / 0.3 at the start, unknown at the end")
  })

  it("replaces only what is between the markers of the docs, and adds them when missing", () => {
    const file = join(mkdtempSync(join(tmpdir(), "bench-docs-")), "performance.md")
    writeFileSync(file, "# Performance\n\nMethod.\n")
    updateDocs(file, "first")
    updateDocs(file, "second")
    writeFileSync(file, readFileSync(file, "utf8").replace("Method.", "Method, edited."))
    updateDocs(file, "third")
    expect(readFileSync(file, "utf8")).toBe(`# Performance\n\nMethod, edited.\n\n${DOCS_START}\nthird\n${DOCS_END}\n`)
  })
})
