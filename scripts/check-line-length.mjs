#!/usr/bin/env node
// The formatter (Biome, `biome.json`) keeps code within 160 characters but never breaks a string,
// a template or a comment: this finds the lines it had to leave long, so a person splits them.
import { readFileSync } from "node:fs"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"

export const LIMIT = 160

/** `file:line (n characters)` for every line of `text` longer than the limit. */
export const longLines = (file, text) =>
  text.split("\n").flatMap((line, i) => ([...line].length > LIMIT ? [`${file}:${i + 1} (${[...line].length} characters)`] : []))

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = execFileSync("git", ["ls-files", "*.ts", "*.mjs"], { encoding: "utf8" })
    .split("\n")
    .filter((f) => f !== "" && !f.startsWith("bench/results/"))
  const found = files.flatMap((f) => longLines(f, readFileSync(f, "utf8")))
  for (const line of found) console.error(`line length: ${line}, over ${LIMIT}`)
  if (found.length > 0) process.exit(1)
  console.log(`line length: ok (every source line within ${LIMIT} characters)`)
}
