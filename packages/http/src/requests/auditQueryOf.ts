import * as Result from "effect/Result"
import { MAX_AUDIT_AGENT_ID_LENGTH, MAX_AUDIT_QUERY_LIMIT, type AuditQuery } from "@dtma/domain"
import { z } from "zod"
import { InvalidRequest } from "./InvalidRequest.ts"

export const DEFAULT_AUDIT_LIMIT = 100
const LIMIT_PROBLEM = `must be a whole number between 1 and ${MAX_AUDIT_QUERY_LIMIT}`
const ONE = "must be given once, as text"

/** `GET /audit`'s query: each parameter at most once; any other is refused, naming it. */
export const auditQuerySchema = z.strictObject(
  {
    agentId: z
      .string({ error: ONE })
      .min(1, { error: "must not be empty" })
      .max(MAX_AUDIT_AGENT_ID_LENGTH, { error: `must be at most ${MAX_AUDIT_AGENT_ID_LENGTH} characters` })
      .optional(),
    server: z.string({ error: ONE }).min(1, { error: "must not be empty" }).max(200, { error: "must be at most 200 characters" }).optional(),
    since: z
      .string({ error: ONE })
      .pipe(z.iso.datetime({ offset: true, error: "must be an ISO 8601 date and time with a zone, such as 2026-01-31T12:00:00Z" }))
      .transform((text) => Date.parse(text))
      .optional(),
    limit: z
      .string({ error: ONE })
      .regex(/^\d{1,7}$/, { error: LIMIT_PROBLEM })
      .transform(Number)
      .pipe(z.number().min(1, { error: LIMIT_PROBLEM }).max(MAX_AUDIT_QUERY_LIMIT, { error: LIMIT_PROBLEM }))
      .optional(),
  },
  { error: (issue) => (issue.code === "unrecognized_keys" ? `unknown parameter; the parameters are agentId, server, since and limit` : undefined) },
)

/** The audit query `?agentId=&server=&since=&limit=` asks for (limit 100 when absent), or what is wrong with it. */
export const auditQueryOf = (query: Readonly<Record<string, unknown>>): Result.Result<AuditQuery, InvalidRequest> => {
  const parsed = auditQuerySchema.safeParse({ ...query })
  if (parsed.success) {
    const { agentId, server, since, limit } = parsed.data
    return Result.succeed({ agentId, server, since, limit: limit ?? DEFAULT_AUDIT_LIMIT })
  }
  const issue = parsed.error.issues[0]
  const path = issue?.code === "unrecognized_keys" ? String(issue.keys[0]) : String(issue?.path[0] ?? "query")
  return Result.fail(new InvalidRequest({ path, problem: issue?.message ?? "is invalid" }))
}
