import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { InMemoryRevocationStore, virtualTime, type VirtualTime } from "@dtma/testing"
import { makeAgentRevocations, type Revocation } from "../../src/access/AgentRevocations.ts"

const window = { maxTokenLifetimeMs: 3_600_000, leewayMs: 30_000 }

describe("AgentRevocations", () => {
  let time: VirtualTime
  beforeEach(() => {
    time = virtualTime()
  })
  afterEach(() => time.close())

  const token = (sub: string, issuedAt: number, jti: string | null = null) => ({ sub, jti, issuedAt })

  it("refuses an agent's tokens issued up to the revocation, at once, and accepts those issued after", async () => {
    const revocations = await time.run(makeAgentRevocations({ store: new InMemoryRevocationStore(), window }))
    const before = token("agent-1", time.now() - 60_000)
    await time.run(revocations.revokeAgent("agent-1"))
    expect(revocations.isRevoked(before)).toBe(true)
    await time.advance(1_000)
    expect(revocations.isRevoked(token("agent-1", time.now()))).toBe(false)
  })

  it("keeps revocations across a restart", async () => {
    const store = new InMemoryRevocationStore()
    const first = await time.run(makeAgentRevocations({ store, window }))
    await time.run(first.revokeAgent("agent-1"))
    await time.run(first.revokeToken("tok-9"))
    const restarted = await time.run(makeAgentRevocations({ store: store.reopen(), window }))
    expect(restarted.isRevoked(token("agent-1", time.now() - 1_000))).toBe(true)
    expect(restarted.isRevoked(token("agent-2", time.now() - 1_000, "tok-9"))).toBe(true)
  })

  it("forgets revocations once their tokens have all expired, on the next load and the next save", async () => {
    const store = new InMemoryRevocationStore()
    const revocations = await time.run(makeAgentRevocations({ store, window }))
    const revokedAt = time.now()
    await time.run(revocations.revokeAgent("old"))
    await time.advance(window.maxTokenLifetimeMs + 2 * window.leewayMs)
    const restarted = await time.run(makeAgentRevocations({ store: store.reopen(), window }))
    expect(restarted.isRevoked(token("old", revokedAt))).toBe(false)
    await time.run(revocations.revokeToken("tok-1"))
    expect(await time.run(store.load())).toEqual({ agents: [], tokens: [{ tokenId: "tok-1", revokedAt: time.now() }] })
  })

  it("holds a revocation the store failed to keep, and says it was not kept", async () => {
    const store = new InMemoryRevocationStore()
    const revocations = await time.run(makeAgentRevocations({ store, window }))
    store.failNextSave()
    expect(await time.failure(revocations.revokeAgent("agent-1"))).toMatchObject({ _tag: "RevocationStoreFailed", reason: "unwritable" })
    expect(revocations.isRevoked(token("agent-1", time.now()))).toBe(true)
  })

  it("tells every listener of each revocation, whatever another listener throws", async () => {
    const revocations = await time.run(makeAgentRevocations({ store: new InMemoryRevocationStore(), window }))
    const heard: Array<Revocation> = []
    revocations.onRevoked(() => {
      throw new Error("listener broke")
    })
    const stop = revocations.onRevoked((r) => heard.push(r))
    await time.run(revocations.revokeAgent("agent-1"))
    stop()
    await time.run(revocations.revokeToken("tok-1"))
    expect(heard).toEqual([{ kind: "agent", agentId: "agent-1", revokedAt: time.now() }])
  })

  it("refuses to revoke an id no token can carry", async () => {
    const revocations = await time.run(makeAgentRevocations({ store: new InMemoryRevocationStore(), window }))
    expect(await time.failure(revocations.revokeAgent(""))).toMatchObject({ _tag: "InvalidRevocation", field: "agentId" })
    expect(await time.failure(revocations.revokeToken("t".repeat(300)))).toMatchObject({ _tag: "InvalidRevocation", field: "tokenId" })
  })

  it("does not start on revocations it cannot read", async () => {
    const store = new InMemoryRevocationStore()
    store.corrupt()
    expect(await time.failure(makeAgentRevocations({ store, window }))).toMatchObject({ _tag: "RevocationStoreFailed", reason: "corrupt" })
  })
})
