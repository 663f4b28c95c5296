#!/usr/bin/env node
// Prints one "<project>: N passed, N failed" line per vitest JSON report, then each failed test (file,
// title, the first line of its error) so the end of a CI log says what failed, and a total line;
// exits non-zero when a report is missing, a test failed, or a project ran no test.
import { existsSync, readFileSync } from "node:fs"
import { basename, relative } from "node:path"

/** The first non-empty line of the first message, cut to 300 characters. */
const firstLine = (messages) =>
  (
    String(messages?.[0] ?? "")
      .split("\n")
      .find((l) => l.trim() !== "") ?? "(no message)"
  ).slice(0, 300)

let passed = 0
let failed = 0
let broken = false
for (const file of process.argv.slice(2)) {
  const project = basename(file, ".json")
  if (!existsSync(file)) {
    console.log(`${project}: no report (the run did not finish)`)
    broken = true
    continue
  }
  const report = JSON.parse(readFileSync(file, "utf8"))
  const p = report.numPassedTests ?? 0
  // A file that failed without a failed test did not run (an import or hook error): count it too.
  const brokenFiles = (report.testResults ?? []).filter((r) => r.status === "failed" && !(r.assertionResults ?? []).some((a) => a.status === "failed")).length
  const f = (report.numFailedTests ?? 0) + brokenFiles
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
  console.log(`${project}: ${p} passed, ${f} failed${skipped ? `, ${skipped} skipped` : ""}`)
  for (const result of report.testResults ?? []) {
    const where = relative(process.cwd(), result.name)
    const failures = (result.assertionResults ?? []).filter((a) => a.status === "failed")
    for (const a of failures) console.log(`  ✗ ${where} > ${a.fullName ?? a.title}\n      ${firstLine(a.failureMessages)}`)
    if (result.status === "failed" && failures.length === 0) console.log(`  ✗ ${where} (did not run)\n      ${firstLine([result.message])}`)
  }
  if (p === 0) broken = true
  passed += p
  failed += f
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed > 0 || broken ? 1 : 0)
