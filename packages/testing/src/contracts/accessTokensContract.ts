import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { describe, expect, it } from "vitest"
import type { AccessTokens, AgentRevocations, Grants } from "@dtma/domain"
import type { VirtualTime } from "../virtualTime.ts"
import { freshSubject } from "./freshSubject.ts"

/** A verifier under test on virtual time, a way to make tokens it must accept, and its revocations. */
export interface AccessTokensSubject {
  readonly time: VirtualTime
  readonly tokens: AccessTokens
  readonly revocations: AgentRevocations
  /** A token a trusted issuer made now, which the verifier must accept. */
  mint(request: { readonly sub: string; readonly grants: Grants; readonly ttlSeconds: number; readonly jti: string | null }): Promise<string>
  readonly cleanup?: () => Promise<void>
}

const grants: Grants = [{ target: { server: "memory" }, tools: ["read_*"], prompts: [], resources: true }]

/** Behaviour every AccessTokens must have; run on the fake and on the jose verifier. */
export const accessTokensContract = (label: string, setup: () => Promise<AccessTokensSubject>): void => {
  describe(`AccessTokens contract: ${label}`, () => {
    const withSubject = freshSubject(setup)
    const verify = (s: AccessTokensSubject, token: string) => s.time.run(s.tokens.verify(Redacted.make(token)))
    const refusal = (s: AccessTokensSubject, token: string) => s.time.failure(s.tokens.verify(Redacted.make(token)))

    it(
      "answers a token it must accept with its agent, token id, times and grants, every time",
      withSubject(async (s) => {
        const token = await s.mint({ sub: "agent-1", grants, ttlSeconds: 600, jti: "tok-1" })
        const issuedAt = Math.floor(s.time.now() / 1000) * 1000
        const expected = { kind: "agent", sub: "agent-1", jti: "tok-1", issuedAt, expiresAt: issuedAt + 600_000, grants }
        expect(await verify(s, token)).toMatchObject(expected)
        expect(await verify(s, token)).toMatchObject(expected)
      }),
    )

    it(
      "answers a token without a token id with a null jti",
      withSubject(async (s) => {
        expect((await verify(s, await s.mint({ sub: "agent-1", grants, ttlSeconds: 600, jti: null }))).jti).toBeNull()
      }),
    )

    it(
      "refuses what is not a token as malformed, quoting none of it",
      withSubject(async (s) => {
        const error = await refusal(s, "not-a-token-at-all")
        expect(error).toMatchObject({ _tag: "TokenRefused", reason: "malformed" })
        expect(error.message).not.toContain("not-a-token-at-all")
      }),
    )

    it(
      "accepts a token until 30 s after it expires, then refuses it as expired",
      withSubject(async (s) => {
        const token = await s.mint({ sub: "agent-1", grants, ttlSeconds: 60, jti: "tok-1" })
        await verify(s, token)
        await s.time.advance(Math.floor(s.time.now() / 1000) * 1000 + 90_000 - s.time.now() - 1)
        expect((await verify(s, token)).sub).toBe("agent-1")
        await s.time.advance(1)
        expect(await refusal(s, token)).toMatchObject({ reason: "expired" })
      }),
    )

    it(
      "refuses a token once its agent is revoked, and accepts the agent's tokens issued after",
      withSubject(async (s) => {
        const token = await s.mint({ sub: "agent-1", grants, ttlSeconds: 600, jti: "tok-1" })
        await verify(s, token)
        await s.time.run(s.revocations.revokeAgent("agent-1"))
        expect(await refusal(s, token)).toMatchObject({ reason: "revoked" })
        await s.time.advance(1_000)
        expect((await verify(s, await s.mint({ sub: "agent-1", grants, ttlSeconds: 600, jti: "tok-2" }))).jti).toBe("tok-2")
      }),
    )

    it(
      "knows a token only once it has accepted it, and then answers it as it does when verifying",
      withSubject(async (s) => {
        const token = await s.mint({ sub: "agent-1", grants, ttlSeconds: 600, jti: "tok-1" })
        expect(s.tokens.verifyKnown(Redacted.make(token), s.time.now())).toBeUndefined()
        expect(s.tokens.verifyKnown(Redacted.make("not-a-token-at-all"), s.time.now())).toBeUndefined()
        const verified = await verify(s, token)
        expect(s.tokens.verifyKnown(Redacted.make(token), s.time.now())).toEqual(Result.succeed(verified))
      }),
    )

    it(
      "refuses a known token as expired 30 s after it expires, and as revoked once its agent or itself is revoked",
      withSubject(async (s) => {
        const token = await s.mint({ sub: "agent-1", grants, ttlSeconds: 60, jti: "tok-1" })
        const other = await s.mint({ sub: "agent-2", grants, ttlSeconds: 600, jti: "tok-2" })
        await verify(s, token)
        await verify(s, other)
        const known = (t: string, now = s.time.now()) => s.tokens.verifyKnown(Redacted.make(t), now)
        const expiresAt = Math.floor(s.time.now() / 1000) * 1000 + 60_000
        expect(known(token, expiresAt + 30_000 - 1)).toMatchObject({ _tag: "Success" })
        expect(known(token, expiresAt + 30_000)).toMatchObject({ _tag: "Failure", failure: { _tag: "TokenRefused", reason: "expired" } })
        await s.time.run(s.revocations.revokeToken("tok-2"))
        expect(known(other)).toMatchObject({ _tag: "Failure", failure: { reason: "revoked" } })
        expect(await refusal(s, other)).toMatchObject({ reason: "revoked" })
      }),
    )

    it(
      "refuses a token once it is revoked by id, and no other",
      withSubject(async (s) => {
        const token = await s.mint({ sub: "agent-1", grants, ttlSeconds: 600, jti: "tok-1" })
        const other = await s.mint({ sub: "agent-1", grants, ttlSeconds: 600, jti: "tok-2" })
        await verify(s, token)
        await s.time.run(s.revocations.revokeToken("tok-1"))
        expect(await refusal(s, token)).toMatchObject({ reason: "revoked" })
        expect((await verify(s, other)).jti).toBe("tok-2")
      }),
    )
  })
}
