import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { dtmaNodeFlags } from "../../src/nodeFlags.ts"

const ROOT = join(import.meta.dirname, "..", "..", "..", "..")
const read = (path: string) => readFileSync(join(ROOT, path), "utf8")

// An allocation burst like start-up's, then the young generation's size as V8 reports it, MB.
const BURST = `
  import v8 from "node:v8"
  let keep = []
  for (let i = 0; i < 3e6; i++) { keep.push({ i, s: "x" + i }); if (keep.length > 2e5) keep = [] }
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")
  console.log(young.space_size / 1048576)`

const youngGenerationMB = (flags: ReadonlyArray<string>): number =>
  Number(execFileSync(process.execPath, [...flags, "--input-type=module", "-e", BURST], { encoding: "utf8" }))

describe("the DTMA's node flags", () => {
  it("keep the young generation at 16 MB or less through an allocation burst", () => {
    expect(youngGenerationMB(dtmaNodeFlags())).toBeLessThanOrEqual(16)
  })

  it("are what scripts/start.sh, the bench and the soak start the DTMA with", () => {
    const launches = read("scripts/start.sh").match(/node .*packages\/http\/src\/main\.ts/g) ?? []
    expect(launches).toHaveLength(2)
    for (const launch of launches) expect(launch).toBe('node "${node_flags[@]}" packages/http/src/main.ts')
    expect(read("scripts/start.sh")).toContain("mapfile -t node_flags < packages/http/node-flags")
    expect(read("bench/lib/dtma.ts")).toContain("spawn(process.execPath, [...dtmaNodeFlags(), ")
    expect(read("soak/src/dtmaProcess.ts")).toContain("spawn(process.execPath, [...dtmaNodeFlags(), MAIN]")
  })
})
