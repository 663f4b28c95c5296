import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { BUILT_CONDITION, dtmaLaunchArgs, dtmaNodeFlags } from "../../src/nodeFlags.ts"

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

  it("are what scripts/start.sh, the bench and the soak start the built DTMA with", () => {
    const start = read("scripts/start.sh")
    const launches = start.match(/node .*main\.(ts|js)/g) ?? []
    expect(launches).toHaveLength(2)
    for (const launch of launches) expect(launch).toBe('node "${node_flags[@]}" --conditions=dtma-built packages/http/dist/main.js')
    expect(start).toContain("mapfile -t node_flags < packages/http/node-flags")
    expect(start.indexOf("pnpm -s build")).toBeLessThan(start.indexOf(launches[0]!))
    expect(read("bench/lib/dtma.ts")).toContain("spawn(process.execPath, dtmaLaunchArgs(")
    expect(read("soak/src/dtmaProcess.ts")).toContain("spawn(process.execPath, dtmaLaunchArgs(ROOT)")
    expect(dtmaLaunchArgs(ROOT, ["--cpu-prof"])).toEqual([...dtmaNodeFlags(), "--cpu-prof", BUILT_CONDITION, join(ROOT, "packages", "http", "dist", "main.js")])
  })

  it("build a DTMA that runs as JavaScript: its packages resolve to dist/ under the condition, and dist/ holds no TypeScript", () => {
    dtmaLaunchArgs(ROOT)
    const loaded = execFileSync(
      process.execPath,
      [
        BUILT_CONDITION,
        "--input-type=module",
        "-e",
        'const m = await import("@dtma/adapters"); console.log(import.meta.resolve("@dtma/domain"), typeof m.makeDockerOutputCapture)',
      ],
      { encoding: "utf8", cwd: join(ROOT, "packages", "http") },
    )
    expect(loaded).toBe(`file://${join(ROOT, "packages", "domain", "dist", "index.js")} function\n`)
    for (const file of readdirSync(join(ROOT, "packages", "http", "dist"), { recursive: true, encoding: "utf8" })) expect(file).not.toMatch(/\.ts$/)
  })
})
