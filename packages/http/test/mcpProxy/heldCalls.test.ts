import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { CallerIdentity, JsonRpcResponse, ServerRequestAnswer } from "@dtma/domain"
import { EXPIRY_GRACE_MS, HeldCalls } from "../../src/mcpProxy/HeldCalls.ts"
import { GATHER_MS, MrtrCall, type Front } from "../../src/mcpProxy/MrtrCall.ts"
import { HeldCallSeal, type RequestBinding } from "../../src/mcpProxy/heldCallState.ts"
import type { Answering } from "../../src/mcpProxy/SessionReach.ts"
import { ManualTimers } from "../support/grantsSupport.ts"

// The held-call table and the calls in it, on a clock moved by hand: bounds, lifetime, single use.

const agent = (sub: string): CallerIdentity => ({
  kind: "agent",
  sub,
  jti: `${sub}-token`,
  issuer: "https://issuer",
  issuedAt: 0,
  expiresAt: 2 ** 45,
  grants: [],
})

const ELICIT = { method: "elicitation/create", params: { message: "Name?" } }

/** A client request attached to a call: what it was answered. */
const frontOf = (caller: CallerIdentity, id = 1) => {
  const answers: Array<JsonRpcResponse | Readonly<Record<string, unknown>> | null> = []
  const front: Front = {
    id,
    caller,
    capabilities: { elicitation: {} },
    settle: (r) => void answers.push(r),
    inputRequired: (r) => void answers.push(r),
    progress: () => undefined,
    logMessage: () => undefined,
  }
  return { front, answers }
}

const setup = (limits: { perPrincipal?: number; total?: number } = {}) => {
  const timers = new ManualTimers()
  const held = new HeldCalls({
    seal: new HeldCallSeal(),
    timers,
    ttlMs: 1000,
    maxPerPrincipal: limits.perPrincipal ?? 2,
    maxTotal: limits.total ?? 3,
  })
  /** A call of `caller`'s under way upstream, whose server asks one thing; how it was stopped and what the server heard. */
  const asking = (caller: CallerIdentity, params: Record<string, unknown> = {}, deadline = timers.now() + 10 * 60_000) => {
    const binding: RequestBinding = { principal: "", place: "s s", method: "tools/call", params }
    const { front, answers } = frontOf(caller)
    const call = new MrtrCall({ binding: { ...binding, principal: principalFor(caller) }, front, holder: held, timers, deadline })
    const upstream = { stopped: 0, heard: [] as Array<ServerRequestAnswer> }
    call.started(() => void upstream.stopped++)
    const answering = call.answering(noAnswering, 5000)
    void Effect.runPromise(answering.serverRequests.ask(ELICIT)).then((a) => upstream.heard.push(a))
    timers.advanceTo(timers.now() + GATHER_MS)
    return { call, answers, upstream, binding: { ...binding, principal: principalFor(caller) }, answering }
  }
  return { timers, held, asking }
}

const principalFor = (caller: CallerIdentity) => (caller.kind === "agent" ? `agent ${JSON.stringify([caller.issuer, caller.sub])}` : "operator")

const noAnswering: Answering = {
  sessionId: "s",
  serverRequests: { timeoutMs: 1, ask: () => Effect.succeed({ error: { code: 0, message: "" } }) },
  progress: () => undefined,
  logMessage: () => undefined,
  setLogLevel: () => undefined,
  settle: () => undefined,
}

const stateOf = (answers: ReadonlyArray<unknown>): string => (answers.at(-1) as { requestState: string }).requestState

describe("HeldCalls", () => {
  it("holds a call whose server asks, answering its client input_required with the request and a sealed state", () => {
    const { held, asking } = setup()
    const { answers } = asking(agent("a"))
    expect(answers).toEqual([{ resultType: "input_required", inputRequests: { r1: ELICIT }, requestState: expect.any(String) }])
    expect(held.size).toBe(1)
  })

  it("holds at most its bound of one caller's calls and of everyone's: past it the client is told so and the call is cancelled upstream", () => {
    const { held, asking } = setup({ perPrincipal: 2, total: 3 })
    asking(agent("a"))
    asking(agent("a"))
    const third = asking(agent("a"))
    expect(third.answers).toEqual([
      expect.objectContaining({ id: 1, error: expect.objectContaining({ code: -32603, message: expect.stringMatching(/holds 2 calls of this caller/) }) }),
    ])
    expect(third.upstream.stopped).toBe(1)
    asking(agent("b"))
    const fourth = asking(agent("c"))
    expect(fourth.answers[0]).toMatchObject({ error: { code: -32603, message: expect.stringMatching(/holds 3 calls waiting/) } })
    expect(held.size).toBe(3)
  })

  it("ends a held call when its lifetime ends: its place is free, the server's request answered with an error, the call cancelled after a grace", async () => {
    const { timers, held, asking } = setup({ perPrincipal: 1 })
    const first = asking(agent("a"))
    timers.advanceTo(timers.now() + 999)
    expect(held.size).toBe(1)
    timers.advanceTo(timers.now() + 1)
    expect(held.size).toBe(0)
    await expect.poll(() => first.upstream.heard).toEqual([{ error: { code: -32001, message: expect.stringMatching(/did not answer within 1000 ms/) } }])
    expect(first.upstream.stopped).toBe(0)
    timers.advanceTo(timers.now() + EXPIRY_GRACE_MS)
    expect(first.upstream.stopped).toBe(1)
    expect(asking(agent("a")).answers[0]).toMatchObject({ resultType: "input_required" })
  })

  it("ends a held call by its own deadline (its forward's timeout less the grace) when that comes before its lifetime", async () => {
    const { timers, held, asking } = setup()
    const { upstream } = asking(agent("a"), {}, timers.now() + GATHER_MS + 300)
    timers.advanceTo(timers.now() + 299)
    expect(held.size).toBe(1)
    timers.advanceTo(timers.now() + 1)
    expect(held.size).toBe(0)
    await expect.poll(() => upstream.heard).toEqual([{ error: expect.objectContaining({ code: -32001 }) }])
  })

  it("leaves a call the server ends within the grace after its lifetime uncancelled", () => {
    const { timers, asking } = setup()
    const { upstream, answering, answers } = asking(agent("a"))
    timers.advanceTo(timers.now() + 1000)
    answering.settle({ jsonrpc: "2.0", id: 1, result: { content: [], isError: true } })
    timers.advanceTo(timers.now() + EXPIRY_GRACE_MS)
    expect(upstream.stopped).toBe(0)
    expect(answers).toHaveLength(1)
  })

  it("gives a held call to one retry only: its input reaches the server, and a second retry with the same state is refused", async () => {
    const { held, asking } = setup()
    const { answers, upstream, binding, answering } = asking(agent("a"))
    const retry = { requestState: stateOf(answers), inputResponses: { r1: { action: "accept", content: { name: "ada" } } } }
    const taking = frontOf(agent("a"), 2)
    held.resume(retry, binding, taking.front)
    await expect.poll(() => upstream.heard).toEqual([{ result: { action: "accept", content: { name: "ada" } } }])
    answering.settle({ jsonrpc: "2.0", id: 1, result: { content: [] } })
    expect(taking.answers).toEqual([{ jsonrpc: "2.0", id: 2, result: { content: [] } }])
    const again = frontOf(agent("a"), 3)
    held.resume(retry, binding, again.front)
    expect(again.answers).toEqual([expect.objectContaining({ id: 3, error: expect.objectContaining({ code: -32602, data: { reason: "used" } }) })])
    expect(held.size).toBe(0)
  })

  it("keeps the server's answer that came while the call was held, for its retry", () => {
    const { held, asking } = setup()
    const { answers, binding, answering } = asking(agent("a"))
    answering.settle({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "gave up asking" }] } })
    const taking = frontOf(agent("a"), 2)
    held.resume({ requestState: stateOf(answers), inputResponses: {} }, binding, taking.front)
    expect(taking.answers).toEqual([{ jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "gave up asking" }] } }])
  })

  it("cancels a revoked agent's held calls and no one else's", () => {
    const { held, asking } = setup()
    const mine = asking(agent("a"))
    const theirs = asking(agent("b"))
    held.revoke({ kind: "agent", agentId: "a", revokedAt: 1 })
    expect([mine.upstream.stopped, theirs.upstream.stopped]).toEqual([1, 0])
    held.revoke({ kind: "token", tokenId: "b-token", revokedAt: 1 })
    expect(theirs.upstream.stopped).toBe(1)
  })

  it("refuses a retry whose inputResponses is not an object, leaving the call held", () => {
    const { held, asking } = setup()
    const { answers, binding } = asking(agent("a"))
    const taking = frontOf(agent("a"), 2)
    held.resume({ requestState: stateOf(answers), inputResponses: [1] }, binding, taking.front)
    expect(taking.answers[0]).toMatchObject({ error: { code: -32602, data: { reason: "input_responses" } } })
    expect(held.size).toBe(1)
  })
})
