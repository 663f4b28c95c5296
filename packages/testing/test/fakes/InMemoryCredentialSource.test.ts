import { Effect, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { credentialSourceContract, failureOf, InMemoryCredentialSource, run } from "../../src/index.ts"

const request = (connectionIds: ReadonlyArray<string>) => ({ agentId: "agent-1", accountToolInstanceId: "ati-1", connectionIds, requiredScopes: [] })

credentialSourceContract("InMemoryCredentialSource", async () => {
  const source = new InMemoryCredentialSource()
  source.connect("gh-1", { provider: "github", scopes: ["repo"] })
  source.connect("slack-1", { provider: "slack", scopes: ["chat:write", "channels:read"] })
  source.connect("gone-soon", { provider: "google", scopes: [] })
  source.requireReauthorization("gone-soon")
  source.setToolSecrets("ati-1", { API_KEY: "k-123", OPTIONAL: null })
  return {
    source,
    agentId: "agent-1",
    accountToolInstanceId: "ati-1",
    connections: [
      { connectionId: "gh-1", provider: "github", scopes: ["repo"] },
      { connectionId: "slack-1", provider: "slack", scopes: ["chat:write", "channels:read"] },
    ],
    unknownConnectionId: "nope",
    reauthorizeConnectionId: "gone-soon",
    toolSecrets: { accountToolInstanceId: "ati-1", secrets: { API_KEY: "k-123", OPTIONAL: null } },
  }
})

describe("InMemoryCredentialSource's faults", () => {
  it("mints a new token on every fetch and records each call", async () => {
    const source = new InMemoryCredentialSource()
    source.connect("gh-1", { provider: "github", scopes: ["repo"] })
    const [a] = await run(source.fetchOAuth(request(["gh-1"])))
    const [b] = await run(source.fetchOAuth(request(["gh-1"])))
    expect(Redacted.value(a!.accessToken)).not.toBe(Redacted.value(b!.accessToken))
    expect(source.calls).toHaveLength(2)
    expect(source.minted).toBe(2)
  })

  it("fails injected fetches in order, then answers again", async () => {
    const source = new InMemoryCredentialSource()
    source.connect("gh-1", { provider: "github", scopes: [] })
    source.failNext("unavailable", "timeout")
    expect(await failureOf(source.fetchOAuth(request(["gh-1"])))).toMatchObject({ reason: "unavailable", transient: true })
    expect(await failureOf(source.fetchOAuth(request(["gh-1"])))).toMatchObject({ reason: "timeout" })
    await expect(run(source.fetchOAuth(request(["gh-1"])))).resolves.toHaveLength(1)
  })

  it("stamps expiry from effect's clock and the configured lifetime", async () => {
    const source = new InMemoryCredentialSource({ lifetimeMs: 60_000 })
    source.connect("gh-1", { provider: "github", scopes: [] })
    const credentials = await run(TestClock.setTime(10_000).pipe(Effect.andThen(source.fetchOAuth(request(["gh-1"]))), Effect.provide(TestClock.layer())))
    expect(credentials[0]?.expiresAt).toBe(70_000)
    source.setLifetime(null)
    expect((await run(source.fetchOAuth(request(["gh-1"]))))[0]?.expiresAt).toBeNull()
  })
})
