import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
// @ts-expect-error: a plain .mjs script without types
import { findViolations } from "../../../scripts/check-boundaries.mjs"

const tree = (files: Record<string, string>): string => {
  const root = mkdtempSync(join(tmpdir(), "boundaries-"))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  return root
}

describe("package boundaries", () => {
  it("hold in this repository", () => {
    expect(findViolations(join(import.meta.dirname, "..", "..", ".."))).toEqual([])
  })

  it("catch a domain file importing anything but effect", () => {
    const root = tree({
      "packages/domain/src/a.ts": 'import * as Effect from "effect/Effect"\nimport Docker from "dockerode"\nimport { x } from "./b.ts"\n',
      "packages/domain/src/c.ts": 'import { readFileSync } from "node:fs"\n',
    })
    expect(findViolations(root)).toEqual([
      "packages/domain/src/a.ts: the domain package may import only effect, not 'dockerode'",
      "packages/domain/src/a.ts:2: the domain names a container technology (adapters do)",
      "packages/domain/src/c.ts: the domain package may import only effect, not 'node:fs'",
      "packages/domain/src/c.ts: the domain does no I/O ('node:fs')",
    ])
  })

  it("catch domain code that runs an effect, reads the clock around Clock, or names a technology, a container-name rule, a URL or a body path", () => {
    const root = tree({
      "packages/domain/src/a.ts": [
        'import * as Effect from "effect/Effect"',
        "const x = Effect.runFork(Effect.void)",
        "const t = Date.now()",
        "setTimeout(() => undefined, 10)",
        "// Docker says so",
        "const name = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/",
        'const field = "HostConfig.Memory"',
        "const url = `ws://127.0.0.1:${port}`",
        "const ok = Effect.forkIn(Effect.void, scope) // a scoped fork is fine; so are the words containers and clock",
      ].join("\n"),
    })
    expect(findViolations(root)).toEqual([
      "packages/domain/src/a.ts:2: the domain runs an effect or forks a detached fiber (the edge runs effects; background work lives in a Scope)",
      "packages/domain/src/a.ts:3: the domain reads the clock or waits outside effect's Clock",
      "packages/domain/src/a.ts:4: the domain reads the clock or waits outside effect's Clock",
      "packages/domain/src/a.ts:5: the domain names a container technology (adapters do)",
      "packages/domain/src/a.ts:6: the domain holds a container-name rule (the runtime's adapter does)",
      "packages/domain/src/a.ts:7: the domain names an HTTP body path (the HTTP layer does)",
      "packages/domain/src/a.ts:8: the domain holds a URL (adapters build them)",
    ])
  })

  it("leave the same words alone outside the domain", () => {
    const root = tree({ "packages/adapters/src/a.ts": 'const x = "docker"\nconst t = Date.now()\nconst u = "http://127.0.0.1"\n' })
    expect(findViolations(root)).toEqual([])
  })

  it("catch production code importing effect's root index, which loads all of effect", () => {
    const root = tree({ "packages/http/src/a.ts": 'import { Effect } from "effect"\nimport * as Exit from "effect/Exit"\n' })
    expect(findViolations(root)).toEqual([
      "packages/http/src/a.ts: import effect's modules by path ('effect/Effect'), not its root index, which loads all of it",
    ])
  })

  it("catch an adapter importing the http package and an index exporting everything", () => {
    const root = tree({
      "packages/adapters/src/x.ts": 'export { app } from "@dtma/http"\n',
      "packages/adapters/src/index.ts": 'export * from "./x.ts"\n',
    })
    expect(findViolations(root)).toEqual([
      "packages/adapters/src/index.ts: export by name, not 'export *'",
      "packages/adapters/src/x.ts: the adapters package must not import '@dtma/http'",
    ])
  })
})
