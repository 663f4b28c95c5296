import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..", "..", "..", "..")
const read = (path: string) => readFileSync(join(root, path), "utf8")

describe("the README's two commands", () => {
  it("name the scripts that exist, and CI runs the README's test command", () => {
    const readme = read("README.md")
    expect(readme).toContain("```bash\nbash scripts/start.sh\n```")
    expect(readme).toContain("```bash\nbash scripts/test.sh\n```")
    expect(read(".ci/run")).toMatch(/^bash scripts\/test\.sh$/m)
    expect(read("scripts/start.sh")).toContain("bash scripts/setup.sh")
    expect(read("scripts/test.sh")).toContain("bash scripts/setup.sh")
  })
})
