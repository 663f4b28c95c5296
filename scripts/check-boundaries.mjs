#!/usr/bin/env node
// Enforces the hexagon: the domain imports only effect; nothing imports the http package; production
// code never imports the testing package; every src/index.ts exports by name. And one rule of
// weight: production code imports effect's modules by path (`effect/Effect`), never its root index,
// which loads all of effect (about 25 MB more resident memory in the DTMA).
// The domain is pure and technology-free: it runs no effect (the edge does), reads time only
// through effect's Clock, and names no container technology, container-name rule, URL or HTTP body path.
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g

/** Package → the bare specifiers its src may import (null = any except the forbidden ones). */
const RULES = {
  domain: { allowed: (spec) => spec === "effect" || spec.startsWith("effect/") },
  adapters: { forbidden: ["@dtma/http", "@dtma/testing"] },
  testing: { forbidden: ["@dtma/http", "@dtma/adapters"] },
  http: { forbidden: ["@dtma/testing"] },
}

/** What the domain's code (comments included) must not contain, and why. */
const DOMAIN_FORBIDDEN = [
  [
    /\b(?:runFork|runPromise|runPromiseExit|runSync|runSyncExit|runCallback|forkDaemon|forkDetach)\b/,
    "runs an effect or forks a detached fiber (the edge runs effects; background work lives in a Scope)",
  ],
  [/\bDate\.now\(|\bsetTimeout\(|\bsetInterval\(/, "reads the clock or waits outside effect's Clock"],
  [/\b(?:docker|dockerode|runc|containerd)\b/i, "names a container technology (adapters do)"],
  [/\[a-zA-Z0-9\]\[a-zA-Z0-9_\.-\]/, "holds a container-name rule (the runtime's adapter does)"],
  [/\b(?:HostConfig|baseConfigOverrideJson|PortBindings|dockerImageUrl)\b/, "names an HTTP body path (the HTTP layer does)"],
  [/\b(?:wss?|https?):\/\//, "holds a URL (adapters build them)"],
]

const walk = (dir) =>
  readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry)
      return statSync(path).isDirectory() ? walk(path) : path.endsWith(".ts") ? [path] : []
    })

export const findViolations = (root) => {
  const violations = []
  for (const [pkg, rule] of Object.entries(RULES)) {
    const src = join(root, "packages", pkg, "src")
    let files
    try {
      files = walk(src)
    } catch {
      continue
    }
    for (const file of files) {
      const text = readFileSync(file, "utf8")
      const where = relative(root, file)
      for (const match of text.matchAll(IMPORT)) {
        const spec = match[1] ?? match[2]
        if (spec.startsWith(".")) continue
        if (rule.allowed && !rule.allowed(spec)) violations.push(`${where}: the ${pkg} package may import only effect, not '${spec}'`)
        if (rule.forbidden?.some((f) => spec === f || spec.startsWith(`${f}/`))) violations.push(`${where}: the ${pkg} package must not import '${spec}'`)
        if (spec.startsWith("node:") && pkg === "domain") violations.push(`${where}: the domain does no I/O ('${spec}')`)
        if (spec === "effect") violations.push(`${where}: import effect's modules by path ('effect/Effect'), not its root index, which loads all of it`)
      }
      if (file.endsWith(`${pkg}/src/index.ts`) && /export\s*\*/.test(text)) violations.push(`${where}: export by name, not 'export *'`)
      if (pkg === "domain") {
        for (const [line, number] of text.split("\n").map((l, i) => [l, i + 1])) {
          for (const [pattern, why] of DOMAIN_FORBIDDEN) if (pattern.test(line)) violations.push(`${where}:${number}: the domain ${why}`)
        }
      }
    }
  }
  return violations
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(fileURLToPath(import.meta.url), "..", "..")
  const violations = findViolations(root)
  for (const v of violations) console.error(`boundary: ${v}`)
  if (violations.length > 0) process.exit(1)
  console.log("boundaries: ok (domain imports only effect, by module, runs no effect and names no technology; nothing imports http; src never imports testing)")
}
