import fc from "fast-check"
import { contentHash, type OAuthConnectionView } from "@dtma/domain"
import { describe, expect, it } from "vitest"
import { discoveryTagOf, makeDiscoveryTags, type DiscoveryTagSource } from "../../src/responses/mcpServerShapes.ts"

const viewArb: fc.Arbitrary<DiscoveryTagSource> = fc.record({
  instanceName: fc.constantFrom("a", "b", "c"),
  accountToolInstanceId: fc.option(fc.constantFrom("ati-a", "ati-b"), { nil: null }),
  transportType: fc.constantFrom("stdio", "sse", "websocket", "streamable_http"),
  healthStatus: fc.constantFrom("starting", "healthy", "degraded", "unhealthy", "stopping", "stopped"),
  capabilities: fc.option(fc.record({ hash: fc.constantFrom("00", "01") }), { nil: null }),
})

const connectionArb: fc.Arbitrary<OAuthConnectionView> = fc.record({
  connectionId: fc.constantFrom("c1", "c2"),
  provider: fc.option(fc.constantFrom("github", "google"), { nil: null }),
  status: fc.constantFrom("valid", "expiring", "refreshing", "expired"),
  expiresAt: fc.option(fc.constantFrom("2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z"), { nil: null }),
  refreshedAt: fc.option(fc.constant("2026-11-30T00:00:00.000Z"), { nil: null }),
  lastError: fc.constant(null),
})

const callArb = fc.record({
  views: fc.array(viewArb, { maxLength: 3 }),
  origin: fc.constantFrom("http://127.0.0.1:4000", "https://dtma.example"),
  oauth: fc.array(fc.tuple(fc.constantFrom("a", "b", "c"), fc.array(connectionArb, { maxLength: 2 })), { maxLength: 2 }).map((entries) => new Map(entries)),
})

describe("makeDiscoveryTags", () => {
  it("gives every call the tag discoveryTagOf gives it", () => {
    fc.assert(
      fc.property(fc.array(callArb, { minLength: 1, maxLength: 12 }), (calls) => {
        const tags = makeDiscoveryTags()
        // Each call twice, then all of them again: the same arrays and maps come back, after others too.
        for (const { views, origin, oauth } of [...calls.flatMap((c) => [c, c]), ...calls]) {
          expect(tags(views, origin, oauth)).toBe(discoveryTagOf(views, origin, oauth))
        }
      }),
    )
  })

  it("hashes again only when what the tag covers changed since the last call", () => {
    const hashed: Array<unknown> = []
    const tags = makeDiscoveryTags((value) => {
      hashed.push(value)
      return contentHash(value)
    })
    const view: DiscoveryTagSource = { instanceName: "a", accountToolInstanceId: null, transportType: "stdio", healthStatus: "healthy", capabilities: null }
    const first = tags([view], "http://h:1")
    expect(tags([{ ...view }], "http://h:1")).toBe(first)
    expect(hashed).toHaveLength(1)
    expect(tags([{ ...view, healthStatus: "degraded" }], "http://h:1")).not.toBe(first)
    expect(tags([view], "http://h:2")).not.toBe(first)
    expect(tags([view], "http://h:2")).toBe(tags([view], "http://h:2"))
    expect(hashed).toHaveLength(3)
  })
})
