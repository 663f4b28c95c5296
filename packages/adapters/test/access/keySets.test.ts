import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Redacted from "effect/Redacted"
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest"
import type { JsonWebKeySet } from "@dtma/domain"
import { virtualTime, type VirtualTime } from "@dtma/testing"
import { makeJoseAccessTokens, type TrustedIssuer } from "../../src/access/JoseAccessTokens.ts"
import { AUDIENCE, claimsAt, ISSUER, jwksOf, makeKey, sign, type TestKey } from "./tokenKit.ts"

const notRevoked = { isRevoked: () => false }

let k1: TestKey
let k2: TestKey
let k3: TestKey
beforeAll(async () => {
  ;[k1, k2, k3] = await Promise.all([makeKey("ES256", "k1"), makeKey("EdDSA", "k2"), makeKey("RS256", "k3")])
})

/** A JWKS served on loopback, counting the requests it answers. */
const serveJwks = async (initial: JsonWebKeySet) => {
  const state = { jwks: initial, status: 200, requests: 0 }
  const server: Server = createServer((_req, res) => {
    state.requests += 1
    res.writeHead(state.status, { "content-type": "application/json" })
    res.end(JSON.stringify(state.jwks))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  return { state, url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

describe("issuer key sets", () => {
  let time: VirtualTime
  let dir: string
  beforeEach(async () => {
    time = virtualTime()
    dir = await mkdtemp(join(tmpdir(), "dtma-jwks-"))
  })
  afterEach(async () => {
    vi.useRealTimers()
    await time.close()
    await rm(dir, { recursive: true, force: true })
  })

  const verifierFor = (...issuers: ReadonlyArray<TrustedIssuer>) => makeJoseAccessTokens({ audience: AUDIENCE, issuers, revocations: notRevoked })
  const tokenBy = (key: TestKey, overrides: Readonly<Record<string, unknown>> = {}) =>
    sign(key, claimsAt(time.now(), { jti: `${key.kid}-${Math.random()}`, ...overrides }))
  const verify = (tokens: ReturnType<typeof verifierFor>, token: string) => time.run(tokens.verify(Redacted.make(token)))
  const refusal = (tokens: ReturnType<typeof verifierFor>, token: string) => time.failure(tokens.verify(Redacted.make(token)))

  describe("by URL", () => {
    it("fetches the key set once for many tokens", async () => {
      const served = await serveJwks(jwksOf(k1))
      const tokens = verifierFor({ issuer: ISSUER, keys: { jwksUrl: served.url } })
      for (let i = 0; i < 5; i++) expect((await verify(tokens, await tokenBy(k1))).sub).toBe("agent-1")
      expect(served.state.requests).toBe(1)
      await served.close()
    })

    it("fetches it again on an unknown kid, at most once a minute, and then accepts the rotated key", async () => {
      vi.useFakeTimers({ toFake: ["Date"] })
      vi.setSystemTime(time.now())
      const served = await serveJwks(jwksOf(k1))
      const tokens = verifierFor({ issuer: ISSUER, keys: { jwksUrl: served.url } })
      await verify(tokens, await tokenBy(k1))
      served.state.jwks = jwksOf(k1, k2)
      for (let i = 0; i < 3; i++) expect(await refusal(tokens, await tokenBy(k2))).toMatchObject({ reason: "unknown_key" })
      expect(served.state.requests).toBe(1)
      vi.setSystemTime(time.now() + 60_001)
      expect((await verify(tokens, await tokenBy(k2))).sub).toBe("agent-1")
      expect(served.state.requests).toBe(2)
      expect(await refusal(tokens, await tokenBy(k3))).toMatchObject({ reason: "unknown_key" })
      expect(served.state.requests).toBe(2)
      await served.close()
    })

    it("refuses as keys_unavailable when the key set cannot be fetched", async () => {
      const served = await serveJwks(jwksOf(k1))
      served.state.status = 500
      const tokens = verifierFor({ issuer: ISSUER, keys: { jwksUrl: served.url } })
      expect(await refusal(tokens, await tokenBy(k1))).toMatchObject({ reason: "keys_unavailable", detail: expect.stringContaining(served.url) })
      await served.close()
      const gone = verifierFor({ issuer: ISSUER, keys: { jwksUrl: served.url } })
      expect(await refusal(gone, await tokenBy(k1))).toMatchObject({ reason: "keys_unavailable" })
    })
  })

  describe("by file", () => {
    it("reads the key set from the file and verifies its tokens", async () => {
      const path = join(dir, "jwks.json")
      await writeFile(path, JSON.stringify(jwksOf(k1, k3)))
      const tokens = verifierFor({ issuer: ISSUER, keys: { jwksFile: path } })
      expect((await verify(tokens, await tokenBy(k3))).sub).toBe("agent-1")
      expect((await verify(tokens, await tokenBy(k1))).sub).toBe("agent-1")
    })

    it("reads it again on an unknown kid, at most once a minute", async () => {
      const path = join(dir, "jwks.json")
      await writeFile(path, JSON.stringify(jwksOf(k1)))
      const tokens = verifierFor({ issuer: ISSUER, keys: { jwksFile: path } })
      await verify(tokens, await tokenBy(k1))
      await writeFile(path, JSON.stringify(jwksOf(k1, k2)))
      await time.advance(59_000)
      expect(await refusal(tokens, await tokenBy(k2))).toMatchObject({ reason: "unknown_key" })
      await time.advance(1_000)
      expect((await verify(tokens, await tokenBy(k2))).sub).toBe("agent-1")
    })

    it.each([
      ["missing", null],
      ["not JSON", "{"],
      ["not a key set", '{"keys":"none"}'],
    ])("refuses as keys_unavailable when the file is %s, naming the file", async (_, content) => {
      const path = join(dir, "jwks.json")
      if (content !== null) await writeFile(path, content)
      const error = await refusal(verifierFor({ issuer: ISSUER, keys: { jwksFile: path } }), await tokenBy(k1))
      expect(error).toMatchObject({ reason: "keys_unavailable", detail: expect.stringContaining(path) })
    })
  })

  it("trusts several issuers at once, each with its own keys only", async () => {
    const served = await serveJwks(jwksOf(k1))
    const path = join(dir, "jwks.json")
    await writeFile(path, JSON.stringify(jwksOf(k2)))
    const tokens = verifierFor({ issuer: ISSUER, keys: { jwksUrl: served.url } }, { issuer: "https://second.test", keys: { jwksFile: path } })
    expect((await verify(tokens, await tokenBy(k1))).issuer).toBe(ISSUER)
    expect((await verify(tokens, await tokenBy(k2, { iss: "https://second.test" }))).issuer).toBe("https://second.test")
    expect(await refusal(tokens, await tokenBy(k2))).toMatchObject({ reason: "unknown_key" })
    expect(await refusal(tokens, await tokenBy(k1, { iss: "https://third.test" }))).toMatchObject({ reason: "wrong_issuer" })
    await served.close()
  })

  it("refuses to trust one issuer twice", () => {
    expect(() => verifierFor({ issuer: ISSUER, keys: { jwksFile: "/a" } }, { issuer: ISSUER, keys: { jwksFile: "/b" } })).toThrow(/configured twice/)
  })
})
