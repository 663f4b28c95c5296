import { Clock, Effect, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { InMemoryCredentialDelivery, InMemoryCredentialSource, virtualTime, type VirtualTime } from "@dtma/testing"
import { makeCredentialCache } from "../../src/credentials/CredentialCache.ts"
import { defaultRenewalPolicy, defaultRetryPolicy } from "../../src/credentials/renewalPolicy.ts"
import type { OAuthBinding } from "../../src/ManagedInstance.ts"
import { makeServerCredentials, type CredentialHolder, type ServerCredentials } from "../../src/usecases/ServerCredentials.ts"

const binding = (connectionIds: ReadonlyArray<string>, overrides: Partial<OAuthBinding> = {}): OAuthBinding => ({
  agentId: "agent-1",
  connectionIds,
  requiredScopes: [],
  method: "mounted_secrets",
  refreshStrategy: "on_expiry",
  refreshIntervalSeconds: null,
  ...overrides,
})
const holder = (name: string, b: OAuthBinding): CredentialHolder => ({ name, accountToolInstanceId: `ati-${name}`, binding: b })

// Each test's credentials live in a scope of their own, on a clock that moves only when told.
let vt: VirtualTime
beforeEach(() => {
  vt = virtualTime()
})
afterEach(() => vt.close())

const setup = async (options: { readonly lifetimeMs?: number } = {}) => {
  const source = new InMemoryCredentialSource({ lifetimeMs: options.lifetimeMs ?? 600_000 })
  for (const [id, provider] of [
    ["gh", "github"],
    ["slack", "slack"],
    ["google", "google"],
  ] as const)
    source.connect(id, { provider, scopes: [] })
  const delivery = new InMemoryCredentialDelivery()
  const envRenewals: Array<string> = []
  const credentials = await vt.run(
    makeServerCredentials({
      cache: makeCredentialCache({ source }),
      delivery,
      settings: { onExpiry: defaultRenewalPolicy, retry: defaultRetryPolicy, idleRecheckMs: 60_000 },
      random: () => 0.5,
      onEnvRenewal: (name) => Effect.sync(() => void envRenewals.push(name)),
    }),
  )
  return { source, delivery, credentials, envRenewals }
}

const withTestClock = <A, E>(effect: Effect.Effect<A, E>) => vt.run(effect)
const settle = Effect.gen(function* () {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})
const tokensOf = (delivery: InMemoryCredentialDelivery, name: string) =>
  (delivery.deliveredTo(name)?.credentials ?? []).map((c) => Redacted.value(c.accessToken))

describe("ServerCredentials", () => {
  it("delivers each renewed token to every server sharing the connection, with one backend call per refresh", async () => {
    const { source, delivery, credentials } = await setup({ lifetimeMs: 600_000 })
    await withTestClock(
      Effect.gen(function* () {
        for (const name of ["a", "b", "c"]) {
          yield* credentials.prepare(holder(name, binding(["gh"])), "1000")
          yield* credentials.track(holder(name, binding(["gh"])))
        }
        expect(source.calls).toHaveLength(1)
        yield* TestClock.adjust(310_000)
        yield* settle
      }),
    )
    expect(source.calls).toHaveLength(2)
    for (const name of ["a", "b", "c"]) expect(tokensOf(delivery, name)).toEqual(["token-gh-2"])
  })

  it("keeps 10 servers on 3 connections unexpired over 1,000 refreshes while the backend fails 20% of calls at random", async () => {
    const { source, delivery, credentials } = await setup({ lifetimeMs: 600_000 })
    // A seeded uniform generator (fast-check's samples lean towards edge values on purpose).
    let seed = 42
    source.failRandomly(0.2, () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
    const servers = Array.from({ length: 10 }, (_, n) => holder(`server-${n}`, binding([["gh"], ["slack"], ["google"], ["gh", "slack"]][n % 4]!)))
    const outcome = await withTestClock(
      Effect.gen(function* () {
        for (const s of servers) {
          yield* credentials.prepare(s, "1000").pipe(Effect.retry({ times: 10 }))
          yield* credentials.track(s)
        }
        let expiredSeen = 0
        while (source.minted < 1_000 + 3) {
          yield* TestClock.adjust(5_000)
          yield* settle
          const now = yield* Clock.currentTimeMillis
          for (const s of servers) {
            const held = delivery.deliveredTo(s.name)?.credentials ?? []
            if (held.length !== s.binding.connectionIds.length || held.some((c) => c.expiresAt !== null && c.expiresAt <= now)) expiredSeen++
          }
        }
        return { expiredSeen, now: yield* Clock.currentTimeMillis }
      }),
    )
    const calls = source.calls.length
    const renewals = source.minted
    console.info(
      `1,000-refresh run: ${calls} backend calls, ${renewals} tokens minted, ${calls - renewals} failed calls, ` +
        `${outcome.expiredSeen} expired sightings, ${(outcome.now / 3_600_000).toFixed(1)} h simulated`,
    )
    // Every call names one connection: servers sharing it never cause a call each.
    expect(source.calls.every((c) => c.connectionIds.length === 1 || c.connectionIds.length === 2)).toBe(true)
    expect(outcome.expiredSeen).toBe(0)
    expect(renewals).toBeGreaterThanOrEqual(1_000)
    // About a fifth of the calls failed, and each failure cost one extra call, never one per server.
    expect((calls - renewals) / calls).toBeGreaterThan(0.1)
    expect((calls - renewals) / calls).toBeLessThan(0.3)
  }, 60_000)

  it("refuses a server whose connection needs a new sign-in, delivering nothing", async () => {
    const { source, delivery, credentials } = await setup()
    source.requireReauthorization("gh")
    const failure = await vt.failure(credentials.prepare(holder("a", binding(["gh"])), "1000"))
    expect(failure).toMatchObject({ _tag: "CredentialFetchFailed", reason: "reauthorization_required", connectionId: "gh" })
    expect(delivery.deliveredTo("a")).toBeUndefined()
  })

  it("refuses a container user given by name, saying how to fix it", async () => {
    const { delivery, credentials } = await setup()
    const failure = await vt.failure(credentials.prepare(holder("a", binding(["gh"])), "node"))
    expect(failure).toMatchObject({ _tag: "InvalidInstanceSpec", field: "user" })
    expect(delivery.deliveredTo("a")).toBeUndefined()
  })

  it("gives env_vars servers their tokens as environment and replaces their container on renewal", async () => {
    const { delivery, credentials, envRenewals } = await setup()
    const h = holder("env", binding(["gh"], { method: "env_vars" }))
    const prepared = await vt.run(credentials.prepare(h, "1000"))
    expect(prepared.mounts).toEqual([])
    expect(prepared.env.map((e) => e.name)).toEqual(
      expect.arrayContaining(["OAUTH_GITHUB_ACCESS_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN"]),
    )
    await vt.run(credentials.track(h))
    await vt.run(credentials.refresh("env"))
    expect(envRenewals).toEqual(["env"])
    expect(delivery.deliveredTo("env")).toBeUndefined()
  })

  it("replaces an env_vars server's container once per refresh, though the replacement tracks it anew", async () => {
    const source = new InMemoryCredentialSource({ lifetimeMs: 600_000 })
    source.connect("gh", { provider: "github", scopes: [] })
    const h = holder("env", binding(["gh"], { method: "env_vars" }))
    const envRenewals: Array<string> = []
    const credentials: ServerCredentials = await vt.run(
      makeServerCredentials({
        cache: makeCredentialCache({ source }),
        delivery: new InMemoryCredentialDelivery(),
        settings: { onExpiry: defaultRenewalPolicy, retry: defaultRetryPolicy, idleRecheckMs: 60_000 },
        random: () => 0.5,
        // As McpServers does: the replacement container is tracked again once it serves.
        onEnvRenewal: (name) => Effect.suspend(() => credentials.track(h)).pipe(Effect.tap(() => Effect.sync(() => void envRenewals.push(name)))),
      }),
    )
    await vt.run(credentials.prepare(h, "1000"))
    await vt.run(credentials.track(h))
    await vt.run(credentials.refresh("env"))
    await vt.run(credentials.refresh("env"))
    expect(source.calls).toHaveLength(3)
    expect(envRenewals).toEqual(["env", "env"])
  })

  it("reports an env_vars replacement that did not take over, and tries it again later", async () => {
    const source = new InMemoryCredentialSource()
    source.connect("gh", { provider: "github", scopes: [] })
    const attempts: Array<number> = []
    const credentials: ServerCredentials = await vt.run(
      makeServerCredentials({
        cache: makeCredentialCache({ source }),
        delivery: new InMemoryCredentialDelivery(),
        settings: { onExpiry: defaultRenewalPolicy, retry: { baseDelayMs: 1_000, maxDelayMs: 4_000 }, idleRecheckMs: 60_000 },
        random: () => 0.5,
        onEnvRenewal: () => Effect.suspend(() => (attempts.push(attempts.length) === 1 ? Effect.fail("the replacement never became ready") : Effect.void)),
      }),
    )
    const h = holder("env", binding(["gh"], { method: "env_vars" }))
    const failure = await withTestClock(
      Effect.gen(function* () {
        yield* credentials.prepare(h, "1000")
        yield* credentials.track(h)
        const refused = yield* Effect.flip(credentials.refresh("env"))
        yield* TestClock.adjust(1_000)
        yield* settle
        return refused
      }),
    )
    expect(failure).toMatchObject({ _tag: "CredentialDeliveryFailed", reason: "io_failed", detail: expect.stringContaining("did not take over") })
    expect(attempts).toEqual([0, 1])
  })

  it("answers a refresh only once the new token is delivered", async () => {
    const { delivery, credentials } = await setup()
    const h = holder("a", binding(["gh", "slack"], { method: "runtime_api" }))
    await vt.run(credentials.prepare(h, "1000:1000"))
    await vt.run(credentials.track(h))
    const views = await vt.run(credentials.refresh("a"))
    expect(views.map((v) => [v.connectionId, v.provider, v.status])).toEqual([
      ["gh", "github", "valid"],
      ["slack", "slack", "valid"],
    ])
    expect(tokensOf(delivery, "a")).toEqual(["token-gh-3", "token-slack-4"])
    expect(JSON.stringify(views)).not.toContain("token-")
  })

  it("wipes a released server and forgets connections no other server uses", async () => {
    const { source, delivery, credentials } = await setup()
    for (const [name, ids] of [
      ["a", ["gh"]],
      ["b", ["gh", "slack"]],
    ] as const) {
      await vt.run(credentials.prepare(holder(name, binding(ids)), "1000"))
      await vt.run(credentials.track(holder(name, binding(ids))))
    }
    await vt.run(credentials.release("b"))
    expect(delivery.deliveredTo("b")).toBeUndefined()
    expect(await vt.run(credentials.connections("b"))).toEqual([])
    const calls = source.calls.length
    // gh is still a's: served from memory, no call. slack was forgotten: fetched again.
    await vt.run(credentials.prepare(holder("c", binding(["gh"])), "1000"))
    expect(source.calls.length).toBe(calls)
    await vt.run(credentials.prepare(holder("d", binding(["slack"])), "1000"))
    expect(source.calls.length).toBe(calls + 1)
  })
})
