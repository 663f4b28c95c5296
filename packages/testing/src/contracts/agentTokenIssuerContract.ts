import * as Redacted from "effect/Redacted"
import { describe, expect, it } from "vitest"
import type { AccessTokens, AgentTokenIssuer, Grants } from "@dtma/domain"
import type { VirtualTime } from "../virtualTime.ts"
import { freshSubject } from "./freshSubject.ts"

/** An issuer under test on virtual time, with a verifier that trusts it (and revokes nothing). */
export interface AgentTokenIssuerSubject {
  readonly time: VirtualTime
  readonly issuer: AgentTokenIssuer
  readonly tokens: AccessTokens
  readonly maxTtlSeconds: number
  /** The key id a token was signed with. */
  kidOf(token: string): string
  /** The issuer and a verifier after a restart on the same keys. */
  restart(): Promise<{ readonly issuer: AgentTokenIssuer; readonly tokens: AccessTokens }>
  readonly cleanup?: () => Promise<void>
}

const grants: Grants = [
  { target: { server: "memory" }, tools: ["read_graph", "search_*"], prompts: [], resources: false },
  { target: { accountToolInstanceId: "ati-7" }, tools: ["*"], prompts: ["*"], resources: true },
]
const LEEWAY_MS = 30_000

/** Behaviour every AgentTokenIssuer must have; run on the fake pair and on the file issuer with jose. */
export const agentTokenIssuerContract = (label: string, setup: () => Promise<AgentTokenIssuerSubject>): void => {
  describe(`AgentTokenIssuer contract: ${label}`, () => {
    const withSubject = freshSubject(setup)
    const verify = (s: { readonly time: VirtualTime }, tokens: AccessTokens, token: Redacted.Redacted<string>) => s.time.run(tokens.verify(token))
    const refusal = (s: { readonly time: VirtualTime }, tokens: AccessTokens, token: Redacted.Redacted<string>) => s.time.failure(tokens.verify(token))
    const kids = async (s: AgentTokenIssuerSubject, issuer = s.issuer) => (await s.time.run(issuer.jwks())).keys.map((k) => k.kid)

    it(
      "issues a token that verifies as its agent with its grants, its id as jti, for 900 s by default",
      withSubject(async (s) => {
        const issued = await s.time.run(s.issuer.issue({ agentId: "agent-1", grants }))
        const issuedAt = Math.floor(s.time.now() / 1000) * 1000
        expect(issued.expiresAt).toBe(issuedAt + 900_000)
        expect(await verify(s, s.tokens, issued.token)).toEqual({
          kind: "agent",
          sub: "agent-1",
          jti: issued.tokenId,
          issuer: s.issuer.issuer,
          issuedAt,
          expiresAt: issued.expiresAt,
          grants,
        })
        expect(JSON.stringify(issued)).not.toContain(Redacted.value(issued.token))
      }),
    )

    it(
      "gives every token its own id",
      withSubject(async (s) => {
        const ids = new Set<string>()
        for (let i = 0; i < 20; i++) ids.add((await s.time.run(s.issuer.issue({ agentId: "agent-1", grants: [] }))).tokenId)
        expect(ids.size).toBe(20)
      }),
    )

    it(
      "issues for the lifetime asked, up to the maximum, and refuses anything else",
      withSubject(async (s) => {
        const longest = await s.time.run(s.issuer.issue({ agentId: "a", grants: [], ttlSeconds: s.maxTtlSeconds }))
        expect(longest.expiresAt).toBe(Math.floor(s.time.now() / 1000) * 1000 + s.maxTtlSeconds * 1000)
        for (const ttlSeconds of [0, -5, 1.5, s.maxTtlSeconds + 1]) {
          expect(await s.time.failure(s.issuer.issue({ agentId: "a", grants: [], ttlSeconds }))).toMatchObject({
            _tag: "InvalidTokenRequest",
            field: "ttlSeconds",
          })
        }
      }),
    )

    it(
      "refuses an agent id that is empty or longer than 128 characters",
      withSubject(async (s) => {
        for (const agentId of ["", "a".repeat(129)]) {
          expect(await s.time.failure(s.issuer.issue({ agentId, grants: [] }))).toMatchObject({ _tag: "InvalidTokenRequest", field: "agentId" })
        }
      }),
    )

    it(
      "publishes the key its tokens are signed with",
      withSubject(async (s) => {
        const issued = await s.time.run(s.issuer.issue({ agentId: "a", grants: [] }))
        expect(await kids(s)).toEqual([s.kidOf(Redacted.value(issued.token))])
      }),
    )

    it(
      "has its tokens accepted until 30 s after they expire",
      withSubject(async (s) => {
        const issued = await s.time.run(s.issuer.issue({ agentId: "a", grants: [], ttlSeconds: 60 }))
        await s.time.advance(issued.expiresAt - s.time.now() + LEEWAY_MS - 1)
        expect((await verify(s, s.tokens, issued.token)).sub).toBe("a")
        await s.time.advance(1)
        expect(await refusal(s, s.tokens, issued.token)).toMatchObject({ _tag: "TokenRefused", reason: "expired" })
      }),
    )

    it(
      "signs with a new key after a rotation, and keeps the old one until the last token it signed has expired",
      withSubject(async (s) => {
        const old = await s.time.run(s.issuer.issue({ agentId: "a", grants: [], ttlSeconds: 600 }))
        const oldKid = s.kidOf(Redacted.value(old.token))
        const { kid } = await s.time.run(s.issuer.rotate())
        const fresh = await s.time.run(s.issuer.issue({ agentId: "a", grants: [], ttlSeconds: 3_600 }))
        expect(s.kidOf(Redacted.value(fresh.token))).toBe(kid)
        expect(kid).not.toBe(oldKid)
        expect((await kids(s)).sort()).toEqual([oldKid, kid].sort())
        await s.time.advance(old.expiresAt - s.time.now() + LEEWAY_MS - 1)
        expect((await verify(s, s.tokens, old.token)).sub).toBe("a")
        expect(await s.time.run(s.issuer.prune())).toEqual([])
        await s.time.advance(1)
        expect(await kids(s)).toEqual([kid])
        expect((await verify(s, s.tokens, fresh.token)).sub).toBe("a")
        expect(await s.time.run(s.issuer.prune())).toEqual([oldKid])
        expect(await s.time.run(s.issuer.prune())).toEqual([])
      }),
    )

    it(
      "keeps its keys across a restart: tokens issued before still verify, retired keys stay until needed no more",
      withSubject(async (s) => {
        const before = await s.time.run(s.issuer.issue({ agentId: "a", grants, ttlSeconds: 600 }))
        await s.time.run(s.issuer.rotate())
        const current = await s.time.run(s.issuer.issue({ agentId: "b", grants: [] }))
        const restarted = await s.restart()
        expect((await verify(s, restarted.tokens, before.token)).grants).toEqual(grants)
        expect((await verify(s, restarted.tokens, current.token)).sub).toBe("b")
        const after = await s.time.run(restarted.issuer.issue({ agentId: "c", grants: [] }))
        expect(s.kidOf(Redacted.value(after.token))).toBe(s.kidOf(Redacted.value(current.token)))
        await s.time.advance(before.expiresAt - s.time.now() + LEEWAY_MS)
        expect(await kids(s, restarted.issuer)).toEqual([s.kidOf(Redacted.value(current.token))])
      }),
    )
  })
}
