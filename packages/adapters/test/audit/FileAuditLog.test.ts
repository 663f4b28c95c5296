import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { auditRecordOf, type AuditRecord, type AuditRecordInput } from "@dtma/domain"
import { arbAuditRecordInput, arbSecretLike, auditLogContract, failureOf, run } from "@dtma/testing"
import { makeFileAuditLog, type FileAuditLogOptions } from "../../src/audit/FileAuditLog.ts"

const freshDir = () => mkdtemp(join(tmpdir(), "dtma-audit-"))

auditLogContract("FileAuditLog", async () => {
  const root = await freshDir()
  const path = join(root, "log", "dtma", "audit.jsonl")
  let log = makeFileAuditLog({ path, flushDelayMs: 5 })
  return {
    log,
    reopen: async () => {
      await log.flush()
      log = makeFileAuditLog({ path, flushDelayMs: 5 })
      return log
    },
    damage: async () => {
      await log.flush()
      // A write cut short by a crash: no newline at the end.
      await appendFile(path, '{"time":"2026-01-01T00:00:00.000Z","caller":{"kind":"oper')
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  }
})

const at = (i: number, extra: Partial<AuditRecordInput> = {}): AuditRecord =>
  auditRecordOf({
    time: 1_780_000_000_000 + i,
    route: "/mcp-servers/:name/mcp",
    server: "memory",
    method: "tools/call",
    name: `tool_${i}`,
    outcome: "ok",
    ...extra,
  })

const withLog =
  (options: Partial<FileAuditLogOptions>, body: (log: ReturnType<typeof makeFileAuditLog>, path: string, root: string) => Promise<void>) => async () => {
    const root = await freshDir()
    const path = options.path ?? join(root, "dtma", "audit.jsonl")
    try {
      await body(makeFileAuditLog({ flushDelayMs: 5, ...options, path }), path, root)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  }

const linesOf = async (path: string): Promise<Array<AuditRecord>> =>
  (await readFile(path, "utf8").catch(() => ""))
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as AuditRecord)

describe("FileAuditLog", () => {
  it(
    "keeps the audit file 0640 under a 0750 directory it makes",
    withLog({}, async (log, path, root) => {
      await run(log.record(at(1)))
      await log.flush()
      expect((await stat(path)).mode & 0o777).toBe(0o640)
      expect((await stat(join(root, "dtma"))).mode & 0o777).toBe(0o750)
    }),
  )

  it(
    "narrows an existing file others may read to 0640, keeps a narrower one, and leaves an existing directory as it is",
    withLog({}, async (log, path, root) => {
      await mkdir(join(root, "dtma"), { mode: 0o755 })
      await chmod(join(root, "dtma"), 0o755)
      await writeFile(path, "", { mode: 0o666 })
      await chmod(path, 0o666)
      await run(log.record(at(1)))
      await log.flush()
      expect((await stat(path)).mode & 0o777).toBe(0o640)
      expect((await stat(join(root, "dtma"))).mode & 0o777).toBe(0o755)
      await chmod(path, 0o600)
      await run(log.record(at(2)))
      await log.flush()
      expect((await stat(path)).mode & 0o777).toBe(0o600)
    }),
  )

  it(
    "answers a record at once without touching the disk, and writes it a moment later",
    withLog({ flushDelayMs: 1_000 }, async (log, path) => {
      const started = Date.now()
      await run(log.record(at(1)))
      expect(log.stats()).toEqual({ buffered: 1, dropped: 0 })
      expect(await linesOf(path)).toEqual([])
      while ((await linesOf(path)).length === 0 && Date.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 20))
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000)
      expect(await linesOf(path)).toEqual([at(1)])
      expect(log.stats()).toEqual({ buffered: 0, dropped: 0 })
    }),
    15_000,
  )

  it(
    "writes records in the order taken, however flushes and queries interleave",
    withLog({ flushDelayMs: 1 }, async (log, path) => {
      const records = Array.from({ length: 300 }, (_, i) => at(i))
      await Promise.all(
        records.map(async (r, i) => {
          await run(log.record(r))
          if (i % 7 === 0) await log.flush()
          if (i % 50 === 0) await run(log.query({ limit: 3 }))
        }),
      )
      await log.flush()
      expect(await linesOf(path)).toEqual(records)
    }),
  )

  it(
    "rotates by size, keeping the rotated files it is told to, none past the size, and reads across them newest first",
    withLog({ maxBytes: 2_000, files: 2 }, async (log, path) => {
      const records = Array.from({ length: 60 }, (_, i) => at(i))
      for (const r of records) await run(log.record(r))
      await log.flush()
      const current = await linesOf(path)
      const first = await linesOf(`${path}.1`)
      const second = await linesOf(`${path}.2`)
      for (const file of [path, `${path}.1`, `${path}.2`]) expect((await stat(file)).size).toBeLessThanOrEqual(2_000)
      await expect(stat(`${path}.3`)).rejects.toMatchObject({ code: "ENOENT" })
      const kept = [...second, ...first, ...current]
      expect(kept).toEqual(records.slice(records.length - kept.length))
      expect(second.length).toBeGreaterThan(0)
      expect(await run(log.query({ limit: 1000 }))).toEqual([...kept].reverse())
      expect(await run(log.query({ limit: current.length + 2 }))).toEqual([...kept].reverse().slice(0, current.length + 2))
    }),
  )

  it(
    "writes a record longer than the size limit alone in a file, rotating before it",
    withLog({ maxBytes: 300, files: 3 }, async (log, path) => {
      const long = at(2, { name: "n".repeat(250), method: "m".repeat(120) })
      for (const r of [at(1), long, at(3)]) await run(log.record(r))
      await log.flush()
      expect(await linesOf(`${path}.2`)).toEqual([at(1)])
      expect(await linesOf(`${path}.1`)).toEqual([long])
      expect(await linesOf(path)).toEqual([at(3)])
    }),
  )

  it(
    "drops and counts what its bounded buffer cannot hold while the disk is behind",
    withLog({ maxBuffered: 3, flushDelayMs: 60_000 }, async (log, path) => {
      for (let i = 0; i < 5; i++) await run(log.record(at(i)))
      expect(log.stats()).toEqual({ buffered: 3, dropped: 2 })
      await log.flush()
      expect(await linesOf(path)).toEqual([at(0), at(1), at(2)])
    }),
  )

  it("never fails a record when the file cannot be written: it counts the loss and tells the code and path, never the content", async () => {
    const root = await freshDir()
    try {
      await writeFile(join(root, "not-a-dir"), "")
      const problems: Array<{ action: string; detail: string }> = []
      const log = makeFileAuditLog({ path: join(root, "not-a-dir", "audit.jsonl"), flushDelayMs: 1, onProblem: (p) => problems.push(p) })
      await run(log.record(at(1, { name: "secret_tool_name" })))
      await log.flush()
      expect(log.stats()).toEqual({ buffered: 0, dropped: 1 })
      expect(problems).toEqual([{ action: "write", detail: expect.stringMatching(/^E[A-Z]+ on \w+ /) }])
      expect(JSON.stringify(problems)).not.toContain("secret_tool_name")
      expect(await failureOf(log.query({ limit: 1 }))).toMatchObject({ _tag: "AuditLogUnreadable" })
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it("writes no argument, result or token to the file, whatever the edge hands the record's constructor", async () => {
    const root = await freshDir()
    const path = join(root, "audit.jsonl")
    const log = makeFileAuditLog({ path, flushDelayMs: 1 })
    const secrets: Array<string> = []
    try {
      await fc.assert(
        fc.asyncProperty(arbAuditRecordInput, arbSecretLike, async (input, secret) => {
          secrets.push(secret)
          const carrying = { ...input, arguments: { q: secret }, result: secret, headers: { authorization: `Bearer ${secret}` } } as AuditRecordInput
          await Effect.runPromise(log.record(auditRecordOf(carrying)))
        }),
        { numRuns: 200 },
      )
      await log.flush()
      const text = await readFile(path, "utf8")
      expect(text.split("\n").filter((l) => l !== "")).toHaveLength(200)
      for (const secret of secrets) expect(text).not.toContain(secret)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
