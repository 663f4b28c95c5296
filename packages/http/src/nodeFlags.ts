import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"

/** `packages/http/node-flags`: one `node` flag a line, read by `scripts/start.sh`, the bench and the soak. */
export const NODE_FLAGS_FILE = join(import.meta.dirname, "..", "node-flags")

/**
 * The flags `node` runs the DTMA with. V8 reads heap sizes only when the process starts, so they
 * cannot be set from `main.ts`. `--max-semi-space-size=8` (MB) caps the young generation: by
 * default V8 grows it to 64 MB during start-up and bursts and keeps those pages resident (an idle
 * DTMA: 163 MB RSS by default, 148 MB with 8, 135 MB with 2; see docs/performance.md, issue 16).
 * `--expose-gc` lets the DTMA give back, once idle, the pages a burst left (`idleMemoryTrim.ts`);
 * `--no-flush-bytecode` keeps that collection (and any) from throwing away the compiled code of the
 * DTMA's own functions, which it would otherwise compile again on the next calls (a daemon's code is
 * all in use: measured, 0.3–0.6 ms more p50 at one client after each trim without it).
 */
export const dtmaNodeFlags = (file: string = NODE_FLAGS_FILE): ReadonlyArray<string> =>
  readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")

/** The export condition under which the workspace's packages resolve to their built JavaScript (`dist/`). */
export const BUILT_CONDITION = "--conditions=dtma-built"

const built = new Set<string>()

/**
 * `node`'s arguments to run the DTMA of the checkout at `root` as `scripts/start.sh` does: built
 * first (`scripts/build.sh`, once per process and checkout), then its flags (its own `node-flags`, or
 * this checkout's when it has none), `extraFlags`, the
 * export condition and the built entry point. The sources run under type stripping too (`pnpm start`,
 * the tests), but then the stripper stays in the process: about 30 MB more of an idle DTMA
 * (docs/performance.md, issue 16). A checkout older than the build runs from its sources.
 */
export const dtmaLaunchArgs = (root: string, extraFlags: ReadonlyArray<string> = []): ReadonlyArray<string> => {
  const build = join(root, "scripts", "build.sh")
  const ownFlags = join(root, "packages", "http", "node-flags")
  const flags = dtmaNodeFlags(existsSync(ownFlags) ? ownFlags : NODE_FLAGS_FILE)
  if (!existsSync(build)) return [...flags, ...extraFlags, join(root, "packages", "http", "src", "main.ts")]
  if (!built.has(root)) {
    execFileSync("bash", [build], { stdio: ["ignore", "ignore", "inherit"] })
    built.add(root)
  }
  return [...flags, ...extraFlags, BUILT_CONDITION, join(root, "packages", "http", "dist", "main.js")]
}
