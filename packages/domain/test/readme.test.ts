import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const here = (path: string) => join(import.meta.dirname, "..", path)

describe("the domain README", () => {
  it("shows exactly the example the suite runs", () => {
    const readme = readFileSync(here("README.md"), "utf8")
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(block).toBe(readFileSync(here("examples/embed.ts"), "utf8"))
  })

  it("runs its example: the tool is deployed under its own name and stopped", async () => {
    const { listed } = await import("../examples/embed.ts")
    expect(listed).toEqual([expect.objectContaining({ name: "weather tool", accountToolInstanceId: "ati-42", state: "exited" })])
  })
})
