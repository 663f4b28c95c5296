import { readFileSync } from "node:fs"
import { join } from "node:path"

/** `packages/http/node-flags`: one `node` flag a line, read by `scripts/start.sh`, the bench and the soak. */
export const NODE_FLAGS_FILE = join(import.meta.dirname, "..", "node-flags")

/**
 * The flags `node` runs the DTMA with. V8 reads heap sizes only when the process starts, so they
 * cannot be set from `main.ts`. `--max-semi-space-size=8` (MB) caps the young generation: by
 * default V8 grows it to 64 MB during start-up and bursts and keeps those pages resident (an idle
 * DTMA: 163 MB RSS by default, 148 MB with 8, 135 MB with 2; see docs/performance.md, issue 16).
 */
export const dtmaNodeFlags = (): ReadonlyArray<string> =>
  readFileSync(NODE_FLAGS_FILE, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
