import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ROUTES, type RouteSpec } from "../../src/routes/routeTable.ts"
import {
  about,
  arbChoice,
  arbStepChoice,
  AuditLedger,
  expectRecord,
  present,
  send,
  type Answer,
  type Choice,
  type Presented,
} from "../support/agentAccessDriver.ts"
import {
  byName,
  FORWARDED,
  reachesServer,
  keyOf,
  metadataOf,
  OPENING,
  OPENING_BODY,
  PING,
  request,
  seenSince,
  ServerAnswers,
  SHARED,
  SPELLINGS,
  succeeded,
  withoutId,
} from "../support/agentAccessMcp.ts"
import {
  arbAsk,
  auditNameOf,
  edgeOf,
  FIXTURE,
  has,
  LISTS,
  SERVERS,
  TWIN,
  type Ask,
  type Caller,
  type EdgeRefusal,
  type ModelServer,
  type ModelSession,
} from "../support/agentAccessModel.ts"
import { bodyOf, concrete, MCP_A, snapshot } from "../support/agentAccessRoutes.ts"
import { startGrantsApp, type GrantsApp, type GrantsProbe } from "../support/grantsSupport.ts"
import { deployBody, mcpBody, OTHER_TOKEN, startTestApp, TOKEN, type TestApp } from "../support/support.ts"

// Issue 13's property: for random grants, tokens and requests, the HTTP app (fakes behind it) lets a
// request through if and only if the agent-access spec allows it, shows and answers the rest as if
// it did not exist, and audits each request once. The oracle is `agentAccessModel.ts`.

// 2,000 cases in all: 1,000 lives of a session on an MCP endpoint (opened or refused, then up to
// five POSTs, GETs and DELETEs under various tokens, then closed or revoked: about 7 audited requests
// each), and 1,000 runs of one to four requests on the management routes.
const MCP_RUNS = 1000
const ROUTE_RUNS = 1000
const ENDPOINT = "/mcp-servers/:name/mcp"
const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
/** What no audit record may hold: any token the test presented (fake agent tokens, refused ones, garbage) or an operator key. */
const SECRET_MARKS = ["fake-token-", "fake-refused-", "garbage-", TOKEN, OTHER_TOKEN]
/** One request of a case: a POST of JSON-RPC requests, a DELETE of the session, or a GET of its event stream. */
type Step = { readonly who: Choice; readonly asks: ReadonlyArray<Ask> } | { readonly who: Choice; readonly method: "DELETE" | "GET" }

describe("agent access on the MCP endpoints, against the spec's model", () => {
  let app: GrantsApp
  /** The same DTMA, where the operator asks what the servers themselves answer. */
  let reference: GrantsApp
  let answers: ServerAnswers
  /** A DTMA with no server at all: where a refusal must read the same. */
  let empty: TestApp

  beforeAll(async () => {
    ;[app, reference, empty] = await Promise.all([startGrantsApp(), startGrantsApp(), startTestApp()])
    answers = await ServerAnswers.of(reference)
  })
  afterAll(() => Promise.all([app, reference, empty].map((a) => a?.close())))

  const probeOf = (server: ModelServer): GrantsProbe | null => (server === FIXTURE ? app.probe : server === TWIN ? app.twinProbe : null)

  it("lets a request through if and only if the spec allows it, shows and answers nothing ungranted, and audits each request once", async () => {
    const ledger = new AuditLedger(() => app.auditLog.records)
    let caseNo = 0
    let failed = false
    const metadataServed = new Set<string>()

    interface Exchange {
      readonly server: ModelServer
      /** The endpoint's path, as this case spells it. */
      readonly path: string
      /** The session as the model has it: null when there is none (never opened, or ended). */
      readonly session: ModelSession | null
      /** The session id sent, when not the model's session's. */
      readonly named?: string
      readonly who: Presented
      readonly owner: Presented
    }
    const namedIn = (c: Exchange): string => c.named ?? c.session?.id ?? "no-such-session"

    /** A refusal before any session took the request, as the model says; its one record. */
    const checkRefusal = async (
      c: Exchange,
      edge: EdgeRefusal,
      sent: { readonly method: string; readonly body?: unknown; readonly asks: ReadonlyArray<Ask>; readonly res: Answer },
    ) => {
      const { res } = sent
      const what = `${c.who.caller.kind} ${sent.method} ${JSON.stringify(sent.body)} → ${res.status} ${res.text.slice(0, 300)}`
      const ids = Array.isArray(sent.body) ? sent.body.map((m: { id: number }) => m.id) : sent.body === undefined ? [null] : [(sent.body as { id: number }).id]
      await about(what, async () => {
        expect(res.status).toBe(edge.status)
        expect(res.messages).toMatchObject(
          edge.perRequest ? ids.map((id) => ({ jsonrpc: "2.0", id, error: { code: edge.code } })) : [{ jsonrpc: "2.0", id: null, error: { code: edge.code } }],
        )
        if (edge.error !== null) expect(res.messages[0]).toMatchObject({ error: { data: { error: edge.error } } })
        const metadata = metadataOf(c.path)
        if (edge.error === "unauthorized") expect(res.challenge).toBe(`Bearer resource_metadata="${metadata}"`)
        if (edge.error === "invalid_token")
          expect(res.challenge).toMatch(new RegExp(`^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="${escaped(metadata)}"$`))
        // A client without a token must be able to read the metadata the challenge names.
        if (edge.status === 401 && !metadataServed.has(metadata)) {
          const document = await send(app.base, new URL(metadata).pathname, { method: "GET", authorization: null })
          expect([metadata, document.status]).toEqual([metadata, 200])
          metadataServed.add(metadata)
        }
        if (edge.error === "insufficient_scope") {
          expect(res.challenge).toContain('error="insufficient_scope"')
          // The same answer, byte for byte, from a DTMA where no server exists.
          const agent = c.who.caller as Extract<Caller, { kind: "agent" }>
          const there = (await present(empty, { kind: "agent", grants: agent.grants }, agent.sub, null)).authorization
          const elsewhere = await send(empty.base, c.path, {
            method: sent.method,
            authorization: there,
            sessionId: sent.body === OPENING_BODY ? null : namedIn(c),
            body: sent.body,
          })
          expect([elsewhere.status, elsewhere.head, elsewhere.text]).toEqual([res.status, res.head, res.text])
        }
      })
      // A body is not read before its caller is known: a 401's record names the HTTP method only.
      const lone = sent.asks.length === 1 && edge.status !== 401 ? sent.asks[0]! : null
      const [record] = await ledger.next(1)
      expectRecord(
        record,
        {
          caller: c.who.caller,
          route: ENDPOINT,
          server: c.server.name,
          method: lone?.method ?? sent.method,
          name: lone === null ? null : auditNameOf(lone),
          outcome: edge.status === 401 || edge.status === 403 ? "denied" : "error",
          errorCode: edge.error ?? String(edge.code),
          sessionId: null,
        },
        [c.who.secret, c.owner.secret],
      )
    }

    /** POSTs `asks` (one request, or a batch) on the session, checked against the model; the session it opened, if any. */
    const post = async (c: Exchange, asks: ReadonlyArray<Ask>, opening = false): Promise<ModelSession | null> => {
      const { server, session, who } = c
      const ids = asks.map((_, i) => i + 1)
      const body = opening ? OPENING_BODY : asks.length === 1 ? request(1, asks[0]!) : asks.map((a, i) => request(ids[i]!, a))
      const probe = probeOf(server)
      const edge = edgeOf(who.caller, server, { session, opening, initialize: asks.some((a) => a.method === "initialize") })
      // The servers are asked first, so that the probe sees only this exchange.
      const expected = edge === null && !opening ? await Promise.all(asks.map((a) => answers.expected(who.caller, server, a))) : []
      const seenFrom = probe?.seen.length ?? 0
      const res = await send(app.base, c.path, { method: "POST", authorization: who.authorization, sessionId: opening ? null : namedIn(c), body })
      const what = `${who.caller.kind} ${JSON.stringify(body)} → ${res.status} ${res.text.slice(0, 300)}`
      const secrets = [who.secret, c.owner.secret]
      if (edge !== null) {
        await checkRefusal(c, edge, { method: "POST", body, asks, res })
        await about(what, () => expect(seenSince(probe, seenFrom, new Set([...FORWARDED, ...SHARED]))).toEqual([]))
        return null
      }
      await about(what, () => {
        expect(res.status).toBe(200)
        expect(res.messages).toHaveLength(asks.length)
      })
      if (opening) {
        await about(what, () =>
          expect([res.sessionId, res.messages[0]]).toMatchObject([expect.any(String), { id: 1, result: { protocolVersion: "2025-11-25" } }]),
        )
        const [record] = await ledger.next(1)
        expectRecord(
          record,
          { caller: who.caller, route: ENDPOINT, server: server.name, method: "initialize", outcome: "ok", sessionId: res.sessionId },
          secrets,
        )
        return { id: res.sessionId!, owner: who.caller }
      }
      const answered = new Map(res.messages.map((m) => [m["id"], m]))
      const forwarded: Array<string> = []
      const outcomes: Array<{ method: string; name: string | null; outcome: string; errorCode: string | null }> = []
      for (const [i, ask] of asks.entries()) {
        const got = answered.get(ids[i])!
        const { allowed, answer, items } = { items: undefined, ...expected[i]! }
        const item = `${ask.method} ${JSON.stringify(ask.params)} (${allowed ? "granted" : "not granted"}) → ${JSON.stringify(got)}`
        // A server takes any (un)subscription, had or not; anything else succeeds only granted and there.
        const success = SHARED.has(ask.method) || (allowed && has(server, ask.item))
        await about(item, () => {
          if (items === undefined) expect(withoutId(got)).toEqual(answer)
          else expect((got["result"] as Record<string, unknown>)[LISTS.get(ask.method)!.field]).toEqual(items)
          expect(succeeded(got)).toBe(success)
        })
        if (allowed && reachesServer(who.caller, ask.method)) forwarded.push(keyOf(ask.method, ask.params))
        const error = got["error"] as { code: number } | undefined
        outcomes.push({
          method: ask.method,
          name: auditNameOf(ask),
          outcome: !allowed ? "denied" : success ? "ok" : "error",
          errorCode: !allowed ? "insufficient_scope" : success ? null : error === undefined ? "tool_error" : String(error.code),
        })
      }
      // What is granted reaches the server once; nothing else reaches it at all.
      const subscribable = new Set(asks.filter((a, i) => SHARED.has(a.method) && expected[i]!.allowed).map((a) => keyOf(a.method, a.params)))
      await about(what, () => {
        expect(seenSince(probe, seenFrom, FORWARDED).sort()).toEqual(forwarded.sort())
        for (const s of seenSince(probe, seenFrom, SHARED)) expect(subscribable).toContain(s)
      })
      const records = byName(await ledger.next(asks.length))
      for (const [i, o] of byName(outcomes).entries())
        expectRecord(records[i], { caller: who.caller, route: ENDPOINT, server: server.name, sessionId: session!.id, ...o }, secrets)
      return null
    }

    /** DELETEs the session (or the one named), or opens its event stream (GET) and leaves it; whether it was served. */
    const bodiless = async (c: Exchange, method: "DELETE" | "GET"): Promise<boolean> => {
      const edge = edgeOf(c.who.caller, c.server, { session: c.session, opening: false, initialize: false })
      const res = await send(app.base, c.path, { method, authorization: c.who.authorization, sessionId: namedIn(c) })
      if (edge !== null) {
        await checkRefusal(c, edge, { method, asks: [], res })
        return false
      }
      await about(`${c.who.caller.kind} ${method} → ${res.status} ${res.text.slice(0, 300)}`, () =>
        expect([res.status, method === "GET" ? res.head.find(([name]) => name === "content-type")?.[1] : null]).toEqual([
          200,
          method === "GET" ? "text/event-stream" : null,
        ]),
      )
      // A stream's record is written once it ends: here, when the client leaves it.
      const [record] = await ledger.next(1)
      expectRecord(record, { caller: c.who.caller, route: ENDPOINT, server: c.server.name, method, outcome: "ok", sessionId: c.session!.id }, [c.who.secret])
      return true
    }

    /** The operator revokes the session owner's agent, or its token, through the API; its one record. */
    const revoke = async (owner: Extract<Caller, { kind: "agent" }>, what: "agent" | "token") => {
      const [method, path, route] =
        what === "agent"
          ? ["POST", `/agents/${owner.sub}/revoke`, "/agents/:agentId/revoke"]
          : ["DELETE", `/agent-tokens/${owner.jti}`, "/agent-tokens/:tokenId"]
      expect((await send(app.base, path, { method, authorization: `Bearer ${TOKEN}` })).status).toBe(200)
      const [record] = await ledger.next(1)
      expectRecord(record, { caller: { kind: "operator" }, route, server: null, method, outcome: "ok", errorCode: null }, [TOKEN])
    }

    /** The client sessions of `server` open now, as `/metrics` tells the operator (the case's own session is the only one it may have). */
    const openSessions = async (server: ModelServer): Promise<number> => {
      const res = await fetch(`${app.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
      const text = await res.text()
      const [record] = await ledger.next(1)
      expectRecord(record, { caller: { kind: "operator" }, route: "/metrics", server: null, method: "GET", outcome: "ok" }, [TOKEN])
      return Number(new RegExp(`^dtma_mcp_client_sessions\\{server="${server.name}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0)
    }

    const arbStep = (server: ModelServer): fc.Arbitrary<Step> =>
      fc.oneof(
        { weight: 8, arbitrary: fc.record({ who: arbStepChoice(server), asks: fc.array(arbAsk, { minLength: 1, maxLength: 3 }) }) },
        { weight: 2, arbitrary: fc.record({ who: arbStepChoice(server), method: fc.constantFrom<"DELETE" | "GET">("DELETE", "GET") }) },
      )
    const arbCase = fc
      .oneof({ weight: 3, arbitrary: fc.constant(FIXTURE) }, { weight: 2, arbitrary: fc.constant(TWIN) }, { weight: 1, arbitrary: fc.constantFrom(...SERVERS) })
      .chain((server) =>
        fc.record({
          server: fc.constant(server),
          spelling: fc.nat(SPELLINGS.length - 1),
          opener: arbChoice(server),
          steps: fc.array(arbStep(server), { minLength: 1, maxLength: 5 }),
          /** How the session ends: its owner closes it, or the operator revokes the owner (an agent) or its token. */
          end: fc.constantFrom("close", "revoke agent", "revoke token"),
        }),
      )

    await fc.assert(
      fc.asyncProperty(arbCase, async ({ server, spelling, opener, steps, end }) => {
        const path = SPELLINGS[spelling]!(server.name)
        // A failed case (while fast-check shrinks) leaves records unread and maybe its session open.
        if (failed) await ledger.resync()
        failed = true
        const sub = `agent-${++caseNo}`
        const owner = await present(app, opener, sub, null)
        let session = await post({ server, path, session: null, who: owner, owner }, [OPENING], true)
        try {
          if (session !== null) {
            const initialized = { jsonrpc: "2.0", method: "notifications/initialized" }
            const res = await send(app.base, path, { method: "POST", authorization: owner.authorization, sessionId: session.id, body: initialized })
            expect(res.status).toBe(202)
            const [record] = await ledger.next(1)
            const expected = {
              caller: owner.caller,
              route: ENDPOINT,
              server: server.name,
              method: "notifications/initialized",
              outcome: "ok",
              sessionId: session.id,
            }
            expectRecord(record, expected, [owner.secret])
          }
          for (const step of steps) {
            const c: Exchange = { server, path, session, who: await present(app, step.who, sub, owner), owner }
            if ("asks" in step) await post(c, step.asks)
            else if ((await bodiless(c, step.method)) && step.method === "DELETE") session = null
          }
          if (session !== null && owner.caller.kind === "agent" && end !== "close") {
            expect(await openSessions(server)).toBe(1)
            await revoke(owner.caller, end === "revoke agent" ? "agent" : "token")
            // The session has ended at once, and the token is refused from now on.
            expect(await openSessions(server)).toBe(0)
            await post({ server, path, session, who: { ...owner, caller: { kind: "invalid" } }, owner }, [PING])
            if (end === "revoke token") {
              // A newer token of the agent finds no session.
              const newer = await present(app, { kind: "agent", grants: owner.caller.grants }, sub, null)
              await post({ server, path, session: null, named: session.id, who: newer, owner }, [PING])
            }
            session = null
          }
          if (session !== null && (await bodiless({ server, path, session, who: owner, owner }, "DELETE"))) session = null
          failed = false
        } finally {
          if (session !== null && failed) await send(app.base, path, { method: "DELETE", authorization: owner.authorization, sessionId: session.id })
        }
      }),
      { numRuns: MCP_RUNS },
    )
    const { written, expected } = await ledger.settle()
    expect(written).toBe(expected)
    const all = JSON.stringify(app.auditLog.records)
    for (const mark of SECRET_MARKS) expect(all).not.toContain(mark)
  }, 300_000)
})

describe("agent access on the management routes, against the spec's model", () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp()
    for (const [path, body] of [
      ["/mcp-servers", mcpBody()],
      ["/tools", deployBody()],
    ] as const) {
      const res = await app.json("POST", path, body)
      if (res.status !== 201) throw new Error(`setting up: POST ${path} answered ${res.status}`)
    }
  })
  afterAll(() => app?.close())

  it("refuses agent tokens on every management route (403 agent_token_not_allowed, nothing done); the operator key works; one record each", async () => {
    const ledger = new AuditLedger(() => app.auditLog.records)
    let n = 0
    let failed = false
    /** The legacy refusals, unchanged: no token, and a token that is not an operator's nor a valid agent's. */
    const LEGACY = { none: [401, { error: "Unauthorized: Missing or invalid token format" }], invalid: [403, { error: "Forbidden: Invalid token" }] } as const

    const check = async (route: RouteSpec, choice: Choice): Promise<void> => {
      const who = await present(app, choice, `agent-m-${++n}`, null)
      const operator = who.caller.kind === "operator"
      const path = concrete(route, operator, n)
      const before = await snapshot(app)
      const res = await send(app.base, path, { method: route.method, authorization: who.authorization, body: bodyOf(route, operator, n) })
      const body = res.messages[0]
      await about(`${who.caller.kind} ${route.method} ${path} → ${res.status} ${res.text.slice(0, 300)}`, async () => {
        if (who.caller.kind === "none" || who.caller.kind === "invalid")
          expect([res.status, body]).toEqual(route.public ? [200, body] : LEGACY[who.caller.kind])
        else if (who.caller.kind === "agent")
          expect([res.status, body]).toEqual(route.public ? [200, body] : [403, { success: false, error: expect.any(String), code: "agent_token_not_allowed" }])
        else {
          // As before agent access: whatever the route answers, among the statuses it documents; never a refusal of the key.
          expect(Object.keys(route.responses).map(Number)).toContain(res.status)
          expect([401, 403]).not.toContain(res.status)
        }
        if (!operator) expect(await snapshot(app)).toEqual(before)
      })
      // Public documents answer anyone and are not operations: they leave no record.
      if (route.public) return
      const errorCode = who.caller.kind === "agent" ? "agent_token_not_allowed" : operator ? (res.status < 400 ? null : undefined) : String(res.status)
      const issued = (body?.["data"] as { token?: string } | undefined)?.token ?? null
      const [record] = await ledger.next(1)
      expectRecord(
        record,
        {
          caller: who.caller,
          route: route.path,
          server: route.path.includes(":name") ? path.split("/")[2]! : null,
          method: route.method,
          outcome: res.status < 400 ? "ok" : res.status === 401 || res.status === 403 ? "denied" : "error",
          ...(errorCode === undefined ? {} : { errorCode }),
        },
        [who.secret, issued],
      )
    }

    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ route: fc.constantFrom(...ROUTES), who: arbChoice(MCP_A) }), { minLength: 1, maxLength: 4 }), async (requests) => {
        if (failed) await ledger.resync()
        failed = true
        for (const { route, who } of requests) await check(route, who)
        failed = false
      }),
      { numRuns: ROUTE_RUNS },
    )
    const { written, expected } = await ledger.settle()
    expect(written).toBe(expected)
    const all = JSON.stringify(app.auditLog.records)
    for (const mark of SECRET_MARKS) expect(all).not.toContain(mark)
  }, 300_000)
})
