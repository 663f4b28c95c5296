import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { Grants } from "@dtma/domain"
import { mcpHeaders } from "../support/mcpProxySupport.ts"
import {
  answerOf,
  ask,
  INITIALIZE,
  listen,
  ManualTimers,
  openSession,
  postIn,
  readStream,
  startGrantsApp,
  stillOpen,
  type GrantsApp,
  type Stream,
} from "../support/grantsSupport.ts"
import { TOKEN } from "../support/support.ts"

let app: GrantsApp
afterEach(() => app.close())

const ALL: Grants = [{ target: { server: "fixture" }, tools: ["*"], prompts: ["*"], resources: true }]
const LEEWAY_MS = 30_000

/** A call that waits until released or cancelled, answered on an event stream (it asks for progress). */
const hold = (tag: string) => ({ jsonrpc: "2.0", id: tag, method: "tools/call", params: { name: "hold", arguments: { tag }, _meta: { progressToken: tag } } })

/** The answer of a call cut because its token `was revoked` or `expired`. */
const cutAnswer = (id: string, why: string) => ({
  jsonrpc: "2.0",
  id,
  error: { code: -32010, message: `Unauthorized: the access token ${why}; the request was cancelled`, data: { error: "invalid_token" } },
})

/** The fixture's open client sessions, as /metrics counts them. */
const openSessions = async (): Promise<number> => {
  const text = await (await app.api("/metrics")).text()
  return Number(/^dtma_mcp_client_sessions\{server="fixture"\} (\d+)$/m.exec(text)?.[1] ?? 0)
}

/** A session of `token` with its notification stream open and a call in flight on a stream of its own. */
const busySession = async (token: string, tag: string) => {
  const id = await openSession(app.endpoint(), token)
  const notifications = await listen(app.endpoint(), id, token)
  const call = readStream(await postIn(app.endpoint(), id, token, hold(tag)))
  expect([notifications.status, call.status]).toEqual([200, 200])
  await expect.poll(() => app.probe.held.has(tag), { timeout: 5_000 }).toBe(true)
  return { id, streams: [notifications, call] as ReadonlyArray<Stream> }
}

const allStillOpen = async (streams: ReadonlyArray<Stream>) => Promise.all(streams.map((s) => stillOpen(s)))

const initializeWith = async (token: string) => {
  const res = await fetch(app.endpoint(), { method: "POST", headers: mcpHeaders(undefined, token), body: JSON.stringify(INITIALIZE) })
  return { status: res.status, body: await answerOf(res) }
}

describe("revoking an agent", () => {
  it("ends its sessions before the revocation answers: streams end, calls are cancelled and answered so, the next request finds no session", async () => {
    app = await startGrantsApp()
    const token = await app.mint(ALL)
    const revoked = await busySession(token, "revoked")
    const bystander = await busySession(await app.mint(ALL, { sub: "agent-2" }), "bystander")
    const operator = await busySession(TOKEN, "operator")
    expect(await openSessions()).toBe(3)

    const revocation = await Effect.runPromise(app.agentAccess.access.revokeAgent("agent-1"))
    // Counted right after the revocation answered: the cut is made by then, no time allowed.
    expect(await openSessions()).toBe(2)
    await Promise.all(revoked.streams.map((s) => s.ended))
    // The call in flight is answered, so its client stops waiting: the token was revoked.
    expect(revoked.streams[1]!.messages).toEqual([cutAnswer("revoked", "was revoked")])
    await expect.poll(() => app.probe.cancelled, { timeout: 5_000 }).toEqual(["revoked"])
    expect(await allStillOpen([...bystander.streams, ...operator.streams])).toEqual(["still open", "still open", "still open", "still open"])

    expect(await initializeWith(token)).toMatchObject({ status: 401, body: { error: { data: { error: "invalid_token" } } } })
    // A token of the agent issued after the revocation (iat has whole seconds) is valid, and finds no session.
    await new Promise((resolve) => setTimeout(resolve, Math.floor(revocation.revokedAt / 1000) * 1000 + 1_050 - Date.now()))
    const fresh = await app.mint(ALL)
    const stale = await postIn(app.endpoint(), revoked.id, fresh, { jsonrpc: "2.0", id: 1, method: "ping" })
    expect([stale.status, await stale.json()]).toEqual([404, { jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } }])
    expect((await initializeWith(fresh)).status).toBe(200)
  }, 15_000)
})

describe("revoking a token", () => {
  it("ends every session opened or used with it, and only those", async () => {
    app = await startGrantsApp()
    const [first, second, third] = [await app.mint(ALL), await app.mint(ALL), await app.mint(ALL)]
    const openedWith = await busySession(first, "opened")
    const usedWith = await busySession(second, "used")
    expect(await ask(app.endpoint(), usedWith.id, first, "ping")).toMatchObject({ result: {} })
    expect(await ask(app.endpoint(), usedWith.id, second, "ping")).toMatchObject({ result: {} })
    const untouched = await busySession(second, "untouched")

    await Effect.runPromise(app.agentAccess.access.revokeToken((await app.identityOf(first)).jti!))
    expect(await openSessions()).toBe(1)
    await Promise.all([...openedWith.streams, ...usedWith.streams].map((s) => s.ended))
    expect(await allStillOpen(untouched.streams)).toEqual(["still open", "still open"])
    for (const id of [openedWith.id, usedWith.id]) expect((await postIn(app.endpoint(), id, third, { jsonrpc: "2.0", id: 1, method: "ping" })).status).toBe(404)
    expect(await answerOf(await postIn(app.endpoint(), untouched.id, third, { jsonrpc: "2.0", id: 2, method: "ping" }))).toMatchObject({ id: 2 })
  })
})

describe("the expiry of the token that last authorized a session", () => {
  it("ends the session's streams the moment verification starts refusing it (exp + leeway, in fake time); a newer token goes on with the session", async () => {
    const timers = new ManualTimers()
    app = await startGrantsApp({ proxyTimers: timers })
    const token = await app.mint(ALL)
    const deadline = (await app.identityOf(token)).expiresAt + LEEWAY_MS
    const agent = await busySession(token, "expiring")
    const operator = await busySession(TOKEN, "operator")

    timers.advanceTo(deadline - 1)
    expect(await allStillOpen(agent.streams)).toEqual(["still open", "still open"])
    timers.advanceTo(deadline)
    await Promise.all(agent.streams.map((s) => s.ended))
    expect(agent.streams[1]!.messages).toEqual([cutAnswer("expiring", "expired")])
    await expect.poll(() => app.probe.cancelled, { timeout: 5_000 }).toEqual(["expiring"])
    expect(await allStillOpen(operator.streams)).toEqual(["still open", "still open"])
    expect(await openSessions()).toBe(2)

    const newer = await app.mint(ALL, { ttlSeconds: 1_800 })
    const newerDeadline = (await app.identityOf(newer)).expiresAt + LEEWAY_MS
    const again = await listen(app.endpoint(), agent.id, newer)
    expect(again.status).toBe(200)
    timers.advanceTo(newerDeadline - 1)
    expect(await stillOpen(again)).toBe("still open")
    timers.advanceTo(newerDeadline)
    await again.ended
  })

  it("is pushed back by a request with a newer token before it: streams opened under the old one stay open", async () => {
    const timers = new ManualTimers()
    app = await startGrantsApp({ proxyTimers: timers })
    const token = await app.mint(ALL)
    const deadline = (await app.identityOf(token)).expiresAt + LEEWAY_MS
    const agent = await busySession(token, "extended")
    const newer = await app.mint(ALL, { ttlSeconds: 1_800 })
    expect(await ask(app.endpoint(), agent.id, newer, "ping")).toMatchObject({ result: {} })

    timers.advanceTo(deadline + 60_000)
    expect(await allStillOpen(agent.streams)).toEqual(["still open", "still open"])
    timers.advanceTo((await app.identityOf(newer)).expiresAt + LEEWAY_MS)
    await Promise.all(agent.streams.map((s) => s.ended))
  })
})
