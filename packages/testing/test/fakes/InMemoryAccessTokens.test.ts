import * as Redacted from "effect/Redacted"
import { describe, expect, it } from "vitest"
import { makeAgentRevocations } from "@dtma/domain"
import {
  accessTokensContract,
  agentTokenIssuerContract,
  InMemoryAccessTokens,
  InMemoryAgentTokenIssuer,
  InMemoryRevocationStore,
  virtualTime,
} from "../../src/index.ts"

const window = { maxTokenLifetimeMs: 86_400_000, leewayMs: 30_000 }

accessTokensContract("InMemoryAccessTokens", async () => {
  const time = virtualTime()
  const revocations = await time.run(makeAgentRevocations({ store: new InMemoryRevocationStore(), window }))
  const tokens = new InMemoryAccessTokens({ revocations })
  return { time, tokens, revocations, mint: (request) => time.run(tokens.mint(request)), cleanup: () => time.close() }
})

agentTokenIssuerContract("InMemoryAgentTokenIssuer", async () => {
  const time = virtualTime()
  const tokens = new InMemoryAccessTokens()
  const issuer = new InMemoryAgentTokenIssuer({ tokens, maxTtlSeconds: 86_400 })
  return {
    time,
    issuer,
    tokens,
    maxTtlSeconds: 86_400,
    kidOf: (token) => tokens.kidOf(token) ?? "none",
    restart: async () => ({ issuer, tokens }),
    cleanup: () => time.close(),
  }
})

describe("InMemoryAccessTokens", () => {
  it("refuses a token minted to be refused, for its reason", async () => {
    const time = virtualTime()
    const tokens = new InMemoryAccessTokens()
    for (const reason of ["wrong_audience", "bad_signature", "wrong_issuer"] as const) {
      expect(await time.failure(tokens.verify(Redacted.make(tokens.refusing(reason))))).toMatchObject({ reason })
    }
    await time.close()
  })
})

describe("InMemoryAgentTokenIssuer", () => {
  it("fails a rotation on demand as unwritable, still signing with the current key", async () => {
    const time = virtualTime()
    const tokens = new InMemoryAccessTokens()
    const issuer = new InMemoryAgentTokenIssuer({ tokens })
    issuer.failNextRotation()
    expect(await time.failure(issuer.rotate())).toMatchObject({ _tag: "IssuerKeysFailed", reason: "unwritable" })
    expect((await time.run(issuer.jwks())).keys.map((k) => k.kid)).toEqual(["fake-key-1"])
    await time.close()
  })
})
