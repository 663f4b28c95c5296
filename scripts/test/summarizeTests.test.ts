import { execFile } from "node:child_process"
import { mkdtemp, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const script = join(import.meta.dirname, "..", "summarize-tests.mjs")

/** Runs the summary over the given reports (written as files named by their keys): its output and exit code. */
const summarize = async (reports: Record<string, unknown>): Promise<{ out: string; code: number }> => {
  const dir = await mkdtemp(join(tmpdir(), "summary-"))
  const files = await Promise.all(
    Object.entries(reports).map(async ([name, report]) => {
      const file = join(dir, `${name}.json`)
      await writeFile(file, JSON.stringify(report))
      return file
    }),
  )
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [script, ...files])
    return { out: stdout, code: 0 }
  } catch (e) {
    const failed = e as { stdout: string; code: number }
    return { out: failed.stdout, code: failed.code }
  }
}

describe("the CI summary of test reports", () => {
  it("names each failed test with the first line of its error, and a file that did not run, so a CI log's end says what failed", async () => {
    const { out, code } = await summarize({
      docker: {
        numPassedTests: 2,
        numFailedTests: 1,
        testResults: [
          {
            name: join(process.cwd(), "packages/http/test/docker/flood.docker.test.ts"),
            status: "failed",
            assertionResults: [
              { status: "passed", fullName: "floods fine" },
              {
                status: "failed",
                fullName: "a flood > keeps memory bounded",
                failureMessages: ["\nAssertionError: expected 158 to be less than 146\n    at x.ts:1"],
              },
            ],
          },
          {
            name: join(process.cwd(), "packages/http/test/docker/gone.docker.test.ts"),
            status: "failed",
            message: "Error: Cannot find module 'x'",
            assertionResults: [],
          },
        ],
      },
    })
    expect(code).toBe(1)
    expect(out).toContain("docker: 2 passed, 2 failed")
    expect(out).toContain(
      "✗ packages/http/test/docker/flood.docker.test.ts > a flood > keeps memory bounded\n      AssertionError: expected 158 to be less than 146\n",
    )
    expect(out).toContain("✗ packages/http/test/docker/gone.docker.test.ts (did not run)\n      Error: Cannot find module 'x'\n")
    expect(out).not.toContain("floods fine")
  })

  it("passes only when every report is there, ran tests and has no failure", async () => {
    const ok = { numPassedTests: 3, numFailedTests: 0, testResults: [] }
    expect(await summarize({ unit: ok, docker: ok })).toEqual({ out: "unit: 3 passed, 0 failed\ndocker: 3 passed, 0 failed\n6 passed, 0 failed\n", code: 0 })
    expect((await summarize({ unit: ok, docker: { numPassedTests: 0, testResults: [] } })).code).toBe(1)
  })
})
