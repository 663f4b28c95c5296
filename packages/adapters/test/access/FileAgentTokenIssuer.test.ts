import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { decodeProtectedHeader } from "jose"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { makeAgentRevocations, type AgentTokenIssuer } from "@dtma/domain"
import { accessTokensContract, agentTokenIssuerContract, InMemoryRevocationStore, virtualTime, type VirtualTime } from "@dtma/testing"
import { makeFileAgentTokenIssuer, SIGNING_KEYS_FILE } from "../../src/access/FileAgentTokenIssuer.ts"
import { makeJoseAccessTokens, trustedIssuerOf } from "../../src/access/JoseAccessTokens.ts"
import { AUDIENCE, claimsAt, ISSUER, jwksOf, makeKey, sign } from "./tokenKit.ts"

const BUILT_IN = "https://dtma.example.test:30000"
const notRevoked = { isRevoked: () => false }
const kidOf = (token: string) => decodeProtectedHeader(token).kid ?? "none"

const startIssuer = (time: VirtualTime, path: string, maxTtlSeconds = 86_400) =>
  time.run(makeFileAgentTokenIssuer({ path, issuer: BUILT_IN, audience: AUDIENCE, maxTtlSeconds }))
const verifierOf = (issuer: AgentTokenIssuer) => makeJoseAccessTokens({ audience: AUDIENCE, issuers: [trustedIssuerOf(issuer)], revocations: notRevoked })

agentTokenIssuerContract("FileAgentTokenIssuer with JoseAccessTokens", async () => {
  const time = virtualTime()
  const root = await mkdtemp(join(tmpdir(), "dtma-issuer-"))
  const path = join(root, "state", SIGNING_KEYS_FILE)
  const issuer = await startIssuer(time, path)
  return {
    time,
    issuer,
    tokens: verifierOf(issuer),
    maxTtlSeconds: 86_400,
    kidOf,
    restart: async () => {
      const restarted = await startIssuer(time, path)
      return { issuer: restarted, tokens: verifierOf(restarted) }
    },
    cleanup: async () => {
      await time.close()
      await rm(root, { recursive: true, force: true })
    },
  }
})

accessTokensContract("JoseAccessTokens", async () => {
  const time = virtualTime()
  const key = await makeKey("EdDSA", "contract-key")
  const revocations = await time.run(
    makeAgentRevocations({ store: new InMemoryRevocationStore(), window: { maxTokenLifetimeMs: 86_400_000, leewayMs: 30_000 } }),
  )
  const tokens = makeJoseAccessTokens({ audience: AUDIENCE, issuers: [{ issuer: ISSUER, keys: { jwks: () => Effect.succeed(jwksOf(key)) } }], revocations })
  return {
    time,
    tokens,
    revocations,
    mint: ({ sub, grants, ttlSeconds, jti }) => {
      const iat = Math.floor(time.now() / 1000)
      return sign(
        key,
        claimsAt(time.now(), {
          sub,
          jti: jti ?? undefined,
          exp: iat + ttlSeconds,
          grants: grants.map((g) => ({ ...g.target, tools: g.tools, prompts: g.prompts, resources: g.resources })),
        }),
      )
    },
    cleanup: () => time.close(),
  }
})

describe("FileAgentTokenIssuer", () => {
  let time: VirtualTime
  let root: string
  let path: string
  beforeEach(async () => {
    time = virtualTime()
    root = await mkdtemp(join(tmpdir(), "dtma-issuer-"))
    path = join(root, "state", SIGNING_KEYS_FILE)
  })
  afterEach(async () => {
    await time.close()
    await rm(root, { recursive: true, force: true })
  })

  it("makes its key at first start, 0600 in a 0700 directory, and loads the same key later", async () => {
    const first = await startIssuer(time, path)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(join(root, "state"))).mode & 0o777).toBe(0o700)
    const second = await startIssuer(time, path)
    expect(await time.run(second.jwks())).toEqual(await time.run(first.jwks()))
  })

  it("publishes only public keys, and keeps the private one only in its file", async () => {
    const issuer = await startIssuer(time, path)
    const { keys } = await time.run(issuer.jwks())
    expect(keys).toEqual([{ kty: "OKP", crv: "Ed25519", x: expect.any(String), kid: expect.any(String), alg: "EdDSA", use: "sig" }])
    const stored = JSON.parse(await readFile(path, "utf8"))
    expect(stored.keys[0].privateJwk.d).toEqual(expect.any(String))
    const issued = await time.run(issuer.issue({ agentId: "a", grants: [] }))
    expect(Redacted.value(issued.token)).not.toContain(stored.keys[0].privateJwk.d)
  })

  it("tightens a key file others could read", async () => {
    await startIssuer(time, path)
    await import("node:fs/promises").then((fs) => fs.chmod(path, 0o644))
    await startIssuer(time, path)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it("signs EdDSA tokens for this DTMA, with its kid, at+jwt and the grants in the claim form", async () => {
    const issuer = await startIssuer(time, path)
    const issued = await time.run(
      issuer.issue({ agentId: "agent-1", grants: [{ target: { server: "memory" }, tools: ["*"], prompts: ["*"], resources: true }], ttlSeconds: 60 }),
    )
    const [header, payload] = Redacted.value(issued.token)
      .split(".")
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part!, "base64url").toString()))
    const { keys } = await time.run(issuer.jwks())
    expect(header).toEqual({ alg: "EdDSA", kid: keys[0]!.kid, typ: "at+jwt" })
    const iat = Math.floor(time.now() / 1000)
    expect(payload).toEqual({ iss: BUILT_IN, sub: "agent-1", aud: AUDIENCE, iat, exp: iat + 60, jti: issued.tokenId, grants: [{ server: "memory" }] })
  })

  it.each([
    ["not JSON", "{"],
    ["without a current key", '{"version":1,"keys":[]}'],
    ["with a key that is not Ed25519", '{"version":1,"keys":[{"kid":"k","createdAt":1,"retiredAt":null,"keepUntil":null,"privateJwk":{"kty":"RSA"}}]}'],
  ])("refuses to start on a key file %s, rather than replace it", async (_, content) => {
    await mkdir(join(root, "state"), { recursive: true })
    await writeFile(path, content)
    const error = await time.failure(makeFileAgentTokenIssuer({ path, issuer: BUILT_IN, audience: AUDIENCE }))
    expect(error).toMatchObject({ _tag: "IssuerKeysFailed", reason: "corrupt", detail: expect.stringContaining(path) })
    expect(await readFile(path, "utf8")).toBe(content)
  })

  it("changes nothing when a rotation cannot be kept", async () => {
    const issuer = await startIssuer(time, path)
    const before = await time.run(issuer.jwks())
    await rm(path)
    await mkdir(path)
    expect(await time.failure(issuer.rotate())).toMatchObject({ _tag: "IssuerKeysFailed", reason: "unwritable" })
    expect(await time.run(issuer.jwks())).toEqual(before)
    expect(kidOf(Redacted.value((await time.run(issuer.issue({ agentId: "a", grants: [] }))).token))).toBe(before.keys[0]!.kid)
  })

  it("drops a rotated-out key from its file once the last token it signed has expired", async () => {
    const issuer = await startIssuer(time, path)
    const old = await time.run(issuer.issue({ agentId: "a", grants: [], ttlSeconds: 120 }))
    await time.run(issuer.rotate())
    const kidsOnDisk = async () => JSON.parse(await readFile(path, "utf8")).keys.map((k: { kid: string }) => k.kid)
    expect(await kidsOnDisk()).toHaveLength(2)
    await time.advance(old.expiresAt - time.now() + 30_000)
    expect(await time.run(issuer.prune())).toEqual([kidOf(Redacted.value(old.token))])
    expect(await kidsOnDisk()).toEqual((await time.run(issuer.jwks())).keys.map((k) => k.kid))
    expect(await time.failure(verifierOf(issuer).verify(old.token))).toMatchObject({ reason: "unknown_key" })
  })

  it("keeps a key loaded at start, then rotated out, for the longest lifetime after that start", async () => {
    await startIssuer(time, path, 3_600)
    await time.advance(10_000)
    const restarted = await startIssuer(time, path, 3_600)
    const { keys } = await time.run(restarted.jwks())
    await time.run(restarted.rotate())
    await time.advance(3_600_000 + 30_000 - 1)
    expect((await time.run(restarted.jwks())).keys.map((k) => k.kid)).toContain(keys[0]!.kid)
    await time.advance(1)
    expect((await time.run(restarted.jwks())).keys.map((k) => k.kid)).not.toContain(keys[0]!.kid)
  })
})
