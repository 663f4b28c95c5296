import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { SignJWT } from "jose"
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { makeAgentRevocations, type AgentRevocations } from "@dtma/domain"
import { InMemoryRevocationStore, virtualTime, type VirtualTime } from "@dtma/testing"
import { makeJoseAccessTokens, type JoseAccessTokensOptions } from "../../src/access/JoseAccessTokens.ts"
import { AUDIENCE, claimsAt, ISSUER, jwksOf, makeKey, sign, unsigned, withPayload, type TestKey } from "./tokenKit.ts"

let ed: TestKey
let es: TestKey
let rs: TestKey
let stranger: TestKey
beforeAll(async () => {
  ;[ed, es, rs, stranger] = await Promise.all([makeKey("EdDSA", "ed-1"), makeKey("ES256", "es-1"), makeKey("RS256", "rs-1"), makeKey("EdDSA", "ed-1")])
})

describe("JoseAccessTokens", () => {
  let time: VirtualTime
  let revocations: AgentRevocations
  beforeEach(async () => {
    time = virtualTime()
    revocations = await time.run(makeAgentRevocations({ store: new InMemoryRevocationStore(), window: { maxTokenLifetimeMs: 86_400_000, leewayMs: 30_000 } }))
  })
  afterEach(() => time.close())

  const verifier = (options: Partial<JoseAccessTokensOptions> = {}) =>
    makeJoseAccessTokens({
      audience: AUDIENCE,
      issuers: [{ issuer: ISSUER, keys: { jwks: () => Effect.succeed(jwksOf(ed, es, rs)) } }],
      revocations,
      ...options,
    })
  const verify = (tokens: ReturnType<typeof verifier>, token: string) => time.run(tokens.verify(Redacted.make(token)))
  const refusal = async (tokens: ReturnType<typeof verifier>, token: string) => {
    const error = await time.failure(tokens.verify(Redacted.make(token)))
    expect(error.message).not.toContain(token)
    return error
  }
  const claims = (overrides: Readonly<Record<string, unknown>> = {}) => claimsAt(time.now(), overrides)

  it.each(["EdDSA", "ES256", "RS256"] as const)("accepts a %s token of a configured issuer as its agent, with its grants", async (alg) => {
    const key = { EdDSA: ed, ES256: es, RS256: rs }[alg]
    const identity = await verify(verifier(), await sign(key, claims({ grants: [{ server: "memory", tools: ["read_*"] }] })))
    const iat = Math.floor(time.now() / 1000)
    expect(identity).toEqual({
      kind: "agent",
      sub: "agent-1",
      jti: "tok-1",
      issuer: ISSUER,
      issuedAt: iat * 1000,
      expiresAt: (iat + 900) * 1000,
      grants: [{ target: { server: "memory" }, tools: ["read_*"], prompts: ["*"], resources: true }],
    })
  })

  it("refuses HMAC and unsigned tokens before looking at any key", async () => {
    const hs = await new SignJWT(claims()).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode("a shared secret of 32 bytes long!"))
    expect(await refusal(verifier(), hs)).toMatchObject({ _tag: "TokenRefused", reason: "disallowed_algorithm" })
    expect(await refusal(verifier(), unsigned(claims()))).toMatchObject({ reason: "disallowed_algorithm" })
  })

  it("refuses a token whose payload was changed after signing", async () => {
    const token = await sign(ed, claims({ grants: [{ server: "memory", tools: [] }] }))
    expect(await refusal(verifier(), withPayload(token, claims({ grants: [{ server: "memory" }] })))).toMatchObject({ reason: "bad_signature" })
  })

  it("refuses a token signed by a key its issuer does not publish, under a known kid", async () => {
    expect(await refusal(verifier(), await sign(stranger, claims()))).toMatchObject({ reason: "bad_signature" })
    expect(await refusal(verifier(), await sign(stranger, claims(), { kid: "nobody" }))).toMatchObject({ reason: "unknown_key" })
  })

  it("finds the key by trying each one when the token names no kid", async () => {
    const other = await makeKey("EdDSA", "ed-2")
    const tokens = verifier({ issuers: [{ issuer: ISSUER, keys: { jwks: () => Effect.succeed(jwksOf(other, ed)) } }] })
    expect((await verify(tokens, await sign(ed, claims(), { kid: undefined }))).sub).toBe("agent-1")
    expect(await refusal(tokens, await sign(stranger, claims(), { kid: undefined }))).toMatchObject({ reason: "unknown_key" })
  })

  it("refuses a token from an issuer that is not configured, without fetching anything", async () => {
    expect(await refusal(verifier(), await sign(ed, claims({ iss: "https://elsewhere.test" })))).toMatchObject({ reason: "wrong_issuer" })
    expect(await refusal(verifier(), await sign(ed, claims({ iss: undefined })))).toMatchObject({ reason: "wrong_issuer" })
  })

  it("accepts a token whose audience list names this DTMA, and refuses one meant for another", async () => {
    expect((await verify(verifier(), await sign(ed, claims({ aud: ["https://other.test", AUDIENCE] })))).sub).toBe("agent-1")
    expect(await refusal(verifier(), await sign(ed, claims({ aud: "https://other-dtma.test:30000" })))).toMatchObject({ reason: "wrong_audience" })
  })

  it("accepts a token until 30 s after it expires, and not a second more", async () => {
    const tokens = verifier()
    const token = await sign(ed, claims({ exp: Math.floor(time.now() / 1000) + 60 }))
    const fresh = verifier()
    await time.advance(89_000)
    expect((await verify(tokens, token)).sub).toBe("agent-1")
    await time.advance(1_000)
    expect(await refusal(tokens, token)).toMatchObject({ reason: "expired" })
    expect(await refusal(fresh, token)).toMatchObject({ reason: "expired" })
  })

  it("refuses a token not valid yet (nbf, or iat in the future) beyond the leeway", async () => {
    const now = Math.floor(time.now() / 1000)
    expect((await verify(verifier(), await sign(ed, claims({ nbf: now + 30 })))).sub).toBe("agent-1")
    expect(await refusal(verifier(), await sign(ed, claims({ nbf: now + 31 })))).toMatchObject({ reason: "not_yet_valid" })
    expect(await refusal(verifier(), await sign(ed, claims({ iat: now + 31, exp: now + 600 })))).toMatchObject({ reason: "not_yet_valid" })
  })

  it.each([
    ["no sub", { sub: undefined }, "no 'sub' claim"],
    ["an empty sub", { sub: "" }, "'sub' must be 1 to 128"],
    ["a sub of 129 characters", { sub: "a".repeat(129) }, "'sub' must be 1 to 128"],
    ["a sub that is not a string", { sub: 42 }, "'sub' must be a string"],
    ["no exp", { exp: undefined }, "no 'exp' claim"],
    ["no iat", { iat: undefined }, "no 'iat' claim"],
    ["an empty jti", { jti: "" }, "'jti' must be 1 to 256"],
    ["a lifetime over the maximum", { exp: 1_800_000_000 + 86_401 }, "lives longer than 86400 s"],
    ["bad grants", { grants: [{ server: "x", tool: ["a"] }] }, "unknown field 'tool'"],
    ["grants and dtma scopes both", { scope: "dtma:server:x" }, "beside a grants claim"],
  ])("refuses a token with %s as invalid_claims, saying which", async (_, overrides, detail) => {
    await time.advance(1_800_000_000_000 - time.now())
    const error = await refusal(verifier(), await sign(ed, claims(overrides)))
    expect(error).toMatchObject({ reason: "invalid_claims" })
    expect(error.detail).toContain(detail)
  })

  it("accepts a sub of 128 characters, a token with no jti, and grants from the scope", async () => {
    expect((await verify(verifier(), await sign(ed, claims({ sub: "a".repeat(128) })))).sub).toHaveLength(128)
    const identity = await verify(verifier(), await sign(ed, claims({ jti: undefined, grants: undefined, scope: "openid dtma:tool:memory/read_graph" })))
    expect(identity).toMatchObject({ jti: null, grants: [{ target: { server: "memory" }, tools: ["read_graph"], prompts: [], resources: false }] })
  })

  it.each([
    ["not a JWT", "not-a-token"],
    ["three parts of nonsense", "a.b.c"],
    ["a payload that is not JSON", `${Buffer.from('{"alg":"EdDSA"}').toString("base64url")}.${Buffer.from("nope").toString("base64url")}.c2ln`],
  ])("refuses %s as malformed", async (_, token) => {
    expect(await refusal(verifier(), token)).toMatchObject({ reason: "malformed" })
  })

  it("refuses an over-long token unread", async () => {
    const tokens = verifier()
    const token = await sign(ed, claims({ padding: "x".repeat(9_000) }))
    expect(await refusal(tokens, token)).toMatchObject({ reason: "malformed", detail: expect.stringContaining("longer than 8192") })
    expect(tokens.stats().signatureChecks).toBe(0)
  })

  describe("its cache", () => {
    it("answers a token verified before without checking its signature again", async () => {
      const tokens = verifier()
      const token = await sign(ed, claims())
      await verify(tokens, token)
      await verify(tokens, token)
      await verify(tokens, token)
      expect(tokens.stats()).toEqual({ signatureChecks: 1, cacheHits: 2, cached: 1 })
    })

    it("still refuses a cached token once it expires", async () => {
      const tokens = verifier()
      const token = await sign(ed, claims({ exp: Math.floor(time.now() / 1000) + 10 }))
      await verify(tokens, token)
      await time.advance(40_000)
      expect(await refusal(tokens, token)).toMatchObject({ reason: "expired" })
      expect(tokens.stats()).toMatchObject({ signatureChecks: 1, cached: 0 })
    })

    it("still refuses a cached token once it, or its agent, is revoked", async () => {
      const tokens = verifier()
      const first = await sign(ed, claims({ jti: "tok-a" }))
      const second = await sign(ed, claims({ jti: "tok-b", sub: "agent-2" }))
      await verify(tokens, first)
      await verify(tokens, second)
      await time.run(revocations.revokeToken("tok-a"))
      await time.run(revocations.revokeAgent("agent-2"))
      expect(await refusal(tokens, first)).toMatchObject({ reason: "revoked" })
      expect(await refusal(tokens, second)).toMatchObject({ reason: "revoked" })
      expect(tokens.stats().signatureChecks).toBe(2)
    })

    it("refuses a token revoked before it was ever presented", async () => {
      await time.run(revocations.revokeAgent("agent-1"))
      expect(await refusal(verifier(), await sign(ed, claims()))).toMatchObject({ reason: "revoked" })
    })

    it("keeps at most its bound, forgetting the token used least recently", async () => {
      const tokens = verifier({ cacheMaxEntries: 2 })
      const [a, b, c] = await Promise.all(["a", "b", "c"].map((jti) => sign(ed, claims({ jti }))))
      await verify(tokens, a!)
      await verify(tokens, b!)
      await verify(tokens, a!)
      await verify(tokens, c!)
      expect(tokens.stats()).toMatchObject({ signatureChecks: 3, cached: 2 })
      await verify(tokens, a!)
      expect(tokens.stats().signatureChecks).toBe(3)
      await verify(tokens, b!)
      expect(tokens.stats().signatureChecks).toBe(4)
    })

    it("answers one Redacted presented again (a connection's token) as it answers the token: expiry, revocation and the bound still hold", async () => {
      const tokens = verifier({ cacheMaxEntries: 1 })
      const token = await sign(ed, claims({ exp: Math.floor(time.now() / 1000) + 100 }))
      const held = Redacted.make(token)
      await time.run(tokens.verify(held))
      expect(tokens.verifyKnown(held, time.now())).toMatchObject({ _tag: "Success" })
      expect(tokens.verifyKnown(Redacted.make(token), time.now())).toMatchObject({ _tag: "Success" })
      // Forgotten past the bound: the same Redacted is not known, and is verified again.
      await verify(tokens, await sign(ed, claims({ jti: "tok-2" })))
      expect(tokens.verifyKnown(held, time.now())).toBeUndefined()
      await time.run(tokens.verify(held))
      expect(tokens.stats().signatureChecks).toBe(3)
      await time.run(revocations.revokeToken("tok-1"))
      expect(tokens.verifyKnown(held, time.now())).toMatchObject({ _tag: "Failure", failure: { reason: "revoked" } })
      expect(await time.failure(tokens.verify(held))).toMatchObject({ reason: "revoked" })
    })

    it("refuses one Redacted presented again once its token expires", async () => {
      const tokens = verifier()
      const held = Redacted.make(await sign(ed, claims({ exp: Math.floor(time.now() / 1000) + 10 })))
      await time.run(tokens.verify(held))
      await time.advance(40_000)
      expect(tokens.verifyKnown(held, time.now())).toMatchObject({ _tag: "Failure", failure: { reason: "expired" } })
      expect(await time.failure(tokens.verify(held))).toMatchObject({ reason: "expired" })
    })

    it("never caches a refusal", async () => {
      const tokens = verifier()
      const token = await sign(ed, claims({ aud: "https://other.test" }))
      await refusal(tokens, token)
      await refusal(tokens, token)
      expect(tokens.stats()).toMatchObject({ signatureChecks: 2, cacheHits: 0, cached: 0 })
    })
  })
})
