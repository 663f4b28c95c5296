// `pnpm soak [duration]`: a chaos soak of a real DTMA (see soak/README.md). Exits 1 on a lost call or a leak.
import { join } from "node:path"
import { parseArgs } from "./src/args.ts"
import { runSoak } from "./src/soak.ts"

const args = parseArgs(process.argv.slice(2), process.env, join(import.meta.dirname, "results"))
if (typeof args === "string") {
  console.error(args)
  process.exit(2)
}
const log = (line: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`)
try {
  const { pass, summary } = await runSoak(args.durationMs, args.outDir, log)
  console.log(summary)
  process.exit(pass ? 0 : 1)
} catch (error) {
  console.error(`soak FAIL: could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  process.exit(1)
}
