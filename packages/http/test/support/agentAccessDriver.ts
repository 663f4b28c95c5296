import { Effect } from "effect"
import fc from "fast-check"
import type { AuditRecord, Grants } from "@dtma/domain"
import { expect } from "vitest"
import type { TestApp } from "./support.ts"
import { OTHER_TOKEN, TOKEN } from "./support.ts"
import { arbGrantsFor, type Caller, type ModelServer } from "./agentAccessModel.ts"

// How the agent-access property test talks to the app: the credentials it presents, the requests it
// sends, and the audit records each exchange must leave.

/** An answer as the test reads it. */
export interface Answer {
  readonly status: number
  /** Every header but those that change with the moment and the connection. */
  readonly head: ReadonlyArray<readonly [string, string]>
  readonly challenge: string | null
  readonly sessionId: string | null
  readonly text: string
  /** The JSON-RPC messages (or the JSON body) of the answer, a stream's included. */
  readonly messages: ReadonlyArray<Record<string, unknown>>
}

/**
 * One request to the app; a session id goes with the protocol version, as clients send it. The
 * session's own event stream (a GET's) stays open: it is read no further than its head, then left.
 */
export const send = async (
  base: string,
  path: string,
  init: { readonly method: string; readonly authorization: string | null; readonly sessionId?: string | null; readonly body?: unknown },
): Promise<Answer> => {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream" }
  if (init.authorization !== null) headers["authorization"] = init.authorization
  if (init.sessionId != null) Object.assign(headers, { "mcp-session-id": init.sessionId, "mcp-protocol-version": "2025-11-25" })
  const leave = new AbortController()
  const res = await fetch(`${base}${path}`, {
    method: init.method,
    headers,
    signal: leave.signal,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  })
  const stream = (res.headers.get("content-type") ?? "").startsWith("text/event-stream")
  if (stream && init.method === "GET") leave.abort()
  const text = stream && init.method === "GET" ? "" : await res.text()
  const messages = stream
    ? text
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>)
    : text === "" || !(res.headers.get("content-type") ?? "").includes("json")
      ? []
      : ([JSON.parse(text)].flat() as Array<Record<string, unknown>>)
  const head = [...res.headers].filter(([name]) => !["date", "connection", "keep-alive"].includes(name))
  return { status: res.status, head, challenge: res.headers.get("www-authenticate"), sessionId: res.headers.get("mcp-session-id"), text, messages }
}

export type Refusal = "expired" | "revoked_agent" | "revoked_token" | "bad_signature" | "wrong_audience" | "wrong_issuer" | "tampered" | "garbage"

/** A credential to present: the ones a request may carry, relative to the case's agent. */
export type Choice =
  | { readonly kind: "operator"; readonly key: string }
  | { readonly kind: "agent"; readonly grants: Grants }
  | { readonly kind: "stranger"; readonly grants: Grants }
  | { readonly kind: "refused"; readonly reason: Refusal; readonly garbage: string }
  | { readonly kind: "none"; readonly header: string | null }
  | { readonly kind: "owner" }

export interface Presented {
  readonly authorization: string | null
  /** The secret presented, to look for in the audit. */
  readonly secret: string | null
  readonly caller: Caller
}

const arbRefused = fc.record({
  kind: fc.constant("refused" as const),
  reason: fc.constantFrom<Refusal>("expired", "revoked_agent", "revoked_token", "bad_signature", "wrong_audience", "wrong_issuer", "tampered", "garbage"),
  garbage: fc.stringMatching(/^[A-Za-z0-9._~+/=-]{12,40}$/).map((s) => `garbage-${s}`),
})

export const arbOperator = fc.constantFrom(TOKEN, OTHER_TOKEN).map((key): Choice => ({ kind: "operator", key }))
export const arbNone = fc.constantFrom(null, "Basic b3BlcmF0b3I=", "Bearer", "bearer  ").map((header): Choice => ({ kind: "none", header }))

/** Any credential: the operator's keys, an agent's valid token (mostly granting something on `server`), one refused for any reason, none. */
export const arbChoice = (server: ModelServer): fc.Arbitrary<Choice> =>
  fc.oneof(
    { weight: 5, arbitrary: arbGrantsFor(server).map((grants): Choice => ({ kind: "agent", grants })) },
    { weight: 2, arbitrary: arbOperator },
    { weight: 2, arbitrary: arbRefused },
    { weight: 1, arbitrary: arbNone },
  )

/** A later request's credential: mostly the opener's own, else another token of the same agent, another agent's, or any. */
export const arbStepChoice = (server: ModelServer): fc.Arbitrary<Choice> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant<Choice>({ kind: "owner" }) },
    { weight: 1, arbitrary: arbGrantsFor(server).map((grants): Choice => ({ kind: "agent", grants })) },
    { weight: 1, arbitrary: arbGrantsFor(server).map((grants): Choice => ({ kind: "stranger", grants })) },
    { weight: 1, arbitrary: arbChoice(server) },
  )

let minted = 0

/** Mints what `choice` stands for on `app`, for agent `sub` (the case's). */
export const present = async (app: TestApp, choice: Choice, sub: string, owner: Presented | null): Promise<Presented> => {
  const tokens = app.agentAccess.tokens
  const mint = async (forSub: string, grants: Grants, ttlSeconds = 900): Promise<{ readonly token: string; readonly jti: string }> => {
    const jti = `prop-jti-${++minted}`
    return { token: await Effect.runPromise(tokens.mint({ sub: forSub, grants, ttlSeconds, jti })), jti }
  }
  const bearer = (token: string, caller: Caller): Presented => ({ authorization: `Bearer ${token}`, secret: token, caller })
  switch (choice.kind) {
    case "owner":
      if (owner === null) throw new Error("no owner to present")
      return owner
    case "operator":
      return bearer(choice.key, { kind: "operator" })
    case "none":
      return { authorization: choice.header, secret: null, caller: { kind: "none" } }
    case "agent":
    case "stranger": {
      const forSub = choice.kind === "agent" ? sub : `stranger-${++minted}`
      const { token, jti } = await mint(forSub, choice.grants)
      return bearer(token, { kind: "agent", sub: forSub, jti, grants: choice.grants })
    }
    case "refused":
      return bearer(await refusedToken(app, choice, sub, mint), { kind: "invalid" })
  }
}

const refusedToken = async (
  app: TestApp,
  choice: Extract<Choice, { kind: "refused" }>,
  sub: string,
  mint: (forSub: string, grants: Grants, ttlSeconds?: number) => Promise<{ readonly token: string; readonly jti: string }>,
): Promise<string> => {
  const all: Grants = [{ target: { server: "fixture" }, tools: ["*"], prompts: ["*"], resources: true }]
  const access = app.agentAccess.access
  switch (choice.reason) {
    case "expired":
      // Past `exp` and the 30 s leeway.
      return (await mint(sub, all, -120)).token
    case "revoked_agent": {
      const revoked = `revoked-${++minted}`
      const { token } = await mint(revoked, all)
      await Effect.runPromise(access.revokeAgent(revoked))
      return token
    }
    case "revoked_token": {
      const { token, jti } = await mint(sub, all)
      await Effect.runPromise(access.revokeToken(jti))
      return token
    }
    case "tampered":
      return `${(await mint(sub, all)).token}A`
    case "garbage":
      return choice.garbage
    default:
      return app.agentAccess.tokens.refusing(choice.reason)
  }
}

/** The audit's view of a caller. */
export const auditCallerOf = (caller: Caller): unknown => {
  switch (caller.kind) {
    case "none":
    case "invalid":
      return { kind: "anonymous" }
    case "operator":
      return { kind: "operator", fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/) }
    case "agent":
      return { kind: "agent", sub: caller.sub, jti: caller.jti }
  }
}

/**
 * The records an app must have written, counted as the test goes: each exchange's are the next ones
 * in the log, so a record too many or too few shows up as a shifted slice.
 */
export class AuditLedger {
  readonly #records: () => ReadonlyArray<AuditRecord>
  #expected: number

  constructor(records: () => ReadonlyArray<AuditRecord>) {
    this.#records = records
    this.#expected = records().length
  }

  get expected(): number {
    return this.#expected
  }

  /** The `n` records of the exchange just answered (each is written once its answer has gone out). */
  async next(n: number): Promise<ReadonlyArray<AuditRecord>> {
    const from = this.#expected
    this.#expected += n
    const until = Date.now() + 3_000
    while (this.#records().length < this.#expected && Date.now() < until) await new Promise((resolve) => setImmediate(resolve))
    return this.#records().slice(from, this.#expected)
  }

  /** Counts from the records there are now (after a failed case, whose records were not all read). */
  async resync(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 50))
    this.#expected = this.#records().length
  }

  /** The records there are, and those expected, after letting a late one arrive: equal when none came too many. */
  async settle(): Promise<{ readonly written: number; readonly expected: number }> {
    await new Promise((resolve) => setTimeout(resolve, 100))
    return { written: this.#records().length, expected: this.#expected }
  }
}

/** Runs `checks`, putting `what` (the request and its answer, say) before a failure's message. */
export const about = async <T>(what: string, checks: () => T | Promise<T>): Promise<T> => {
  try {
    return await checks()
  } catch (error) {
    if (error instanceof Error) error.message = `${what}\n${error.message}`
    throw error
  }
}

/** A record's fields the property checks, written from the spec's "Audit" section. */
export const expectRecord = (
  record: AuditRecord | undefined,
  expected: {
    readonly caller: Caller
    readonly route: string
    readonly server: string | null
    readonly method: string
    readonly name?: string | null
    readonly outcome: string
    readonly errorCode?: string | null
    readonly sessionId?: string | null
  },
  presented: ReadonlyArray<string | null>,
): void => {
  const { caller, ...fields } = expected
  expect(record).toMatchObject({ ...fields, caller: auditCallerOf(caller) })
  const text = JSON.stringify(record)
  for (const secret of presented) if (secret !== null) expect(text).not.toContain(secret)
}
