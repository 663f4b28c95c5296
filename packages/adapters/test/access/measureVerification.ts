// The cost of verifying an agent token, cold (signature checked) and warm (answered from the cache),
// in microseconds per call on this machine. Not a test: run `node packages/adapters/test/access/measureVerification.ts`.
import { cpus, loadavg } from "node:os"
import { performance } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { makeJoseAccessTokens } from "../../src/access/JoseAccessTokens.ts"
import { AUDIENCE, claimsAt, ISSUER, jwksOf, makeKey, sign, type Alg } from "./tokenKit.ts"

const COLD = 2_000
const WARM = 100_000
const grants = [{ server: "memory", tools: ["read_graph", "search_*"] }, { server: "github-main" }]

console.log(
  `${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
)
const perCall = (ms: number, n: number) => ((ms * 1000) / n).toFixed(1)

for (const alg of ["EdDSA", "ES256", "RS256"] as const satisfies ReadonlyArray<Alg>) {
  const key = await makeKey(alg, `${alg}-1`)
  const tokens = makeJoseAccessTokens({
    audience: AUDIENCE,
    issuers: [{ issuer: ISSUER, keys: { jwks: () => Effect.succeed(jwksOf(key)) } }],
    revocations: { isRevoked: () => false },
    cacheMaxEntries: COLD + 10,
  })
  const minted = await Promise.all(Array.from({ length: COLD }, (_, i) => sign(key, claimsAt(Date.now(), { jti: `tok-${i}`, grants })).then(Redacted.make)))
  await Effect.runPromise(tokens.verify(minted[0]!)) // warm up jose's key import and the JIT
  let start = performance.now()
  for (const token of minted.slice(1)) await Effect.runPromise(tokens.verify(token))
  const cold = performance.now() - start
  const warmToken = minted[1]!
  start = performance.now()
  for (let i = 0; i < WARM; i++) await Effect.runPromise(tokens.verify(warmToken))
  const warm = performance.now() - start
  start = performance.now()
  await Effect.runPromise(Effect.forEach(Array.from({ length: WARM }), () => tokens.verify(warmToken), { discard: true }))
  const warmInside = performance.now() - start
  const stats = tokens.stats()
  console.log(
    `${alg.padEnd(6)} cold ${perCall(cold, COLD - 1)} µs/verify (${COLD - 1} tokens)   warm ${perCall(warm, WARM)} µs/verify (runPromise each)   ` +
      `warm ${perCall(warmInside, WARM)} µs/verify (inside one effect)   signature checks ${stats.signatureChecks}, cache hits ${stats.cacheHits}`,
  )
}
