import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import fc from "fast-check"
import type { AuditRecord } from "@dtma/domain"
import { makeFileAuditLog, type FileAuditLog } from "@dtma/adapters"
import { arbSecretLike, InMemoryAuditLog } from "@dtma/testing"
import { describe, expect, it } from "vitest"
import { auditRecords, IMAGE, OTHER_TOKEN, startTestApp, TOKEN } from "../support/support.ts"

/** The in-memory log the test reads, each record also written to a real audit file. */
class FileBackedAuditLog extends InMemoryAuditLog {
  readonly file: FileAuditLog

  constructor(file: FileAuditLog) {
    super()
    this.file = file
  }

  override record(record: AuditRecord) {
    return super.record(record).pipe(Effect.andThen(this.file.record(record)))
  }
}

interface Probe {
  readonly method: string
  readonly path: string
  readonly body?: unknown
  readonly authorization: string | null
  readonly headers: Record<string, string>
}

const arbProbe = (secret: string): fc.Arbitrary<Probe> =>
  fc
    .record({
      target: fc.constantFrom(
        ["POST", "/tools"],
        ["POST", "/mcp-servers"],
        ["POST", "/mcp-servers/m1/redeploy"],
        ["POST", "/mcp/groups"],
        ["POST", "/tools/t1/start"],
        ["DELETE", "/tools/t1"],
        ["GET", `/mcp-servers?filter=${encodeURIComponent(secret)}`],
        ["GET", `/audit?agentId=${encodeURIComponent(secret)}`],
        ["GET", `/mcp-servers/m1/logs?tail=${encodeURIComponent(secret)}`],
        ["GET", `/nothing/${encodeURIComponent(secret)}`],
        ["POST", "/mcp-servers/m1/mcp"],
        ["GET", "/status"],
      ),
      body: fc.oneof(
        fc.constant({
          instanceNameOnToolbox: "t1",
          dockerImageUrl: IMAGE,
          accountToolInstanceId: "ati-1",
          baseConfigOverrideJson: { Env: [`API_KEY=${secret}`] },
          token: secret,
        }),
        fc.constant({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "search", arguments: { q: secret } } }),
        fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.constant(secret), { maxKeys: 4 }),
        fc.constant(`not json ${secret}`),
      ),
      authorization: fc.constantFrom(`Bearer ${TOKEN}`, `Bearer ${OTHER_TOKEN}`, `Bearer ${secret}`, `Basic ${secret}`, null),
      header: fc.constantFrom("x-api-key", "cookie", "traceparent", "x-forwarded-for"),
    })
    .map(({ target: [method, path], body, authorization, header }) => ({
      method: method!,
      path: path!,
      ...(method === "POST" ? { body } : {}),
      authorization,
      headers: { [header]: secret },
    }))

describe("the audit, whatever the requests carry", () => {
  it("holds no argument, body, query, header, token or key in any record or in the audit file, and one record per request", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dtma-audit-secrets-"))
    const path = join(dir, "audit.jsonl")
    const auditLog = new FileBackedAuditLog(makeFileAuditLog({ path, flushDelayMs: 5 }))
    const app = await startTestApp({ auditLog })
    const secrets: Array<string> = []
    let expected = 0
    try {
      await fc.assert(
        fc.asyncProperty(
          arbSecretLike.chain((secret) => fc.tuple(fc.constant(secret), arbProbe(secret))),
          async ([secret, probe]) => {
            secrets.push(secret)
            const { method, path: target, body, authorization, headers } = probe
            const res = await fetch(`${app.base}${target}`, {
              method,
              headers: {
                ...headers,
                ...(authorization === null ? {} : { authorization }),
                ...(body === undefined ? {} : { "content-type": "application/json" }),
              },
              ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
            })
            await res.arrayBuffer()
            if (target !== "/status") expected += 1
            const records = await auditRecords(auditLog, expected)
            expect(records).toHaveLength(expected)
            expect(JSON.stringify(records)).not.toContain(secret)
          },
        ),
        { numRuns: 80 },
      )
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(auditLog.records).toHaveLength(expected)
      await auditLog.file.flush()
      const file = await readFile(path, "utf8")
      const everything = `${JSON.stringify(auditLog.records)}\n${file}`
      expect(file.split("\n").filter((l) => l !== "")).toHaveLength(expected)
      for (const secret of [...secrets, TOKEN, OTHER_TOKEN]) expect(everything).not.toContain(secret)
    } finally {
      await app.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
