import { Effect, Fiber, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { failureOf, InMemoryCredentialSource, run } from "@dtma/testing"
import { makeCredentialCache } from "../../src/credentials/CredentialCache.ts"
import type { OAuthCredential } from "../../src/ports/CredentialSource.ts"

const request = (...connectionIds: ReadonlyArray<string>) => ({ agentId: "agent-1", accountToolInstanceId: "ati-1", connectionIds, requiredScopes: [] })
const tokenOf = (c: OAuthCredential | undefined) => (c === undefined ? undefined : Redacted.value(c.accessToken))

const setup = (options: { readonly latencyMs?: number; readonly lifetimeMs?: number } = {}) => {
  const source = new InMemoryCredentialSource(options)
  source.connect("gh", { provider: "github", scopes: ["repo"] })
  source.connect("slack", { provider: "slack", scopes: ["chat:write"] })
  return { source, cache: makeCredentialCache({ source }) }
}

const withTestClock = <A, E>(effect: Effect.Effect<A, E>) => run(effect.pipe(Effect.provide(TestClock.layer())))

describe("CredentialCache", () => {
  it("makes one backend call when many servers refresh one connection at once", async () => {
    const { source, cache } = setup({ latencyMs: 20 })
    const leases = await run(
      Effect.all(
        Array.from({ length: 10 }, () => cache.refresh(["gh"], request("gh"))),
        { concurrency: "unbounded" },
      ),
    )
    expect(source.calls).toHaveLength(1)
    expect(new Set(leases.map(([l]) => Redacted.value(l!.token!))).size).toBe(1)
  })

  it("asks only for the connections no refresh is already under way for", async () => {
    const { source, cache } = setup({ latencyMs: 20 })
    await run(Effect.all([cache.refresh(["gh"], request("gh")), cache.refresh(["gh", "slack"], request("gh", "slack"))], { concurrency: "unbounded" }))
    expect(source.calls.map((c) => c.connectionIds)).toEqual([["gh"], ["slack"]])
  })

  it("serves every server the cached token until it expires, then fetches a new one", async () => {
    const { source, cache } = setup({ lifetimeMs: 60_000 })
    const [first, second, third] = await withTestClock(
      Effect.gen(function* () {
        const a = yield* cache.get(request("gh"))
        const b = yield* cache.get(request("gh", "slack"))
        yield* TestClock.adjust(60_000)
        const c = yield* cache.get(request("gh"))
        return [a, b, c] as const
      }),
    )
    expect(tokenOf(second[0])).toBe(tokenOf(first[0]))
    expect(tokenOf(third[0])).not.toBe(tokenOf(first[0]))
    expect(source.calls.map((c) => c.connectionIds)).toEqual([["gh"], ["slack"], ["gh"]])
  })

  it("keeps the old token while it is valid when a refresh fails, and reports it expired afterwards", async () => {
    const { source, cache } = setup({ lifetimeMs: 60_000 })
    const [before, error, during, after] = await withTestClock(
      Effect.gen(function* () {
        const [old] = yield* cache.get(request("gh"))
        source.failNext("unavailable")
        const failed = yield* Effect.flip(cache.refresh(["gh"], request("gh")))
        const lease = yield* cache.lease("gh")
        yield* TestClock.adjust(60_000)
        return [old, failed, lease, yield* cache.lease("gh")] as const
      }),
    )
    expect(error).toMatchObject({ reason: "unavailable", transient: true })
    expect(during).toMatchObject({ state: "refresh_failed", token: before!.accessToken, lastError: expect.stringContaining("unavailable") })
    expect(after?.state).toBe("expired")
  })

  it("stops asking for a connection whose user must sign in again", async () => {
    const { source, cache } = setup()
    await run(cache.get(request("gh")))
    source.requireReauthorization("gh")
    expect(await failureOf(cache.refresh(["gh"], request("gh")))).toMatchObject({ reason: "reauthorization_required", connectionId: "gh" })
    expect(await run(cache.lease("gh"))).toMatchObject({ state: "reauthorization_required", token: null })
    expect(await failureOf(cache.get(request("gh")))).toMatchObject({ reason: "reauthorization_required" })
    expect(source.calls).toHaveLength(2)
  })

  it("marks a connection the backend no longer knows as missing", async () => {
    const { source, cache } = setup()
    await run(cache.get(request("gh")))
    source.disconnect("gh")
    expect(await failureOf(cache.refresh(["gh"], request("gh")))).toMatchObject({ reason: "not_found", connectionId: "gh" })
    expect(await run(cache.lease("gh"))).toMatchObject({ state: "missing", token: null })
  })

  it("tells listeners of each new token until they unsubscribe or the connection is forgotten", async () => {
    const { cache } = setup()
    const heard: Array<string | undefined> = []
    const unsubscribe = cache.onRenewed("gh", (c) => Effect.sync(() => void heard.push(tokenOf(c))))
    const [first] = await run(cache.refresh(["gh"], request("gh")))
    unsubscribe()
    await run(cache.refresh(["gh"], request("gh")))
    cache.onRenewed("gh", (c) => Effect.sync(() => void heard.push(tokenOf(c))))
    await run(cache.forget("gh"))
    await run(cache.refresh(["gh"], request("gh")))
    expect(heard).toEqual([Redacted.value(first!.token!)])
    expect(await run(cache.lease("gh"))).toMatchObject({ state: "valid", refreshedAt: null })
  })

  it("never shows a token in a lease's JSON or in any error", async () => {
    const { source, cache } = setup()
    const [lease] = await run(cache.refresh(["gh", "slack"], request("gh", "slack")))
    const token = Redacted.value(lease!.token!)
    source.failNext("invalid_response")
    const error = await failureOf(cache.refresh(["gh"], request("gh")))
    const after = await run(cache.lease("gh"))
    for (const text of [JSON.stringify(lease), JSON.stringify(after), error.message, JSON.stringify(error), String(after?.lastError)])
      expect(text).not.toContain(token)
  })

  it("lets a waiting server give up without stopping the shared refresh", async () => {
    const { source, cache } = setup({ latencyMs: 50 })
    const leader = Effect.runFork(cache.refresh(["gh"], request("gh")))
    const follower = Effect.runFork(cache.refresh(["gh"], request("gh")))
    await run(Fiber.interrupt(follower))
    const [lease] = await run(Fiber.join(leader))
    expect(lease?.state).toBe("valid")
    expect(source.calls).toHaveLength(1)
  })
})
