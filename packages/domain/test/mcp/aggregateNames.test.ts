import { createHash } from "node:crypto"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { LISTED_NAME, listedNames, mayKeepUri, unwrapUri, uriSegmentOf, wrappedUriOf } from "../../src/mcp/aggregateNames.ts"
import { arbAnyName, arbPair, arbPiece } from "./arbAggregate.ts"

// The edge hashes with Node's crypto; so do the tests.
const listedNameOf = listedNames((bytes) => createHash("sha256").update(bytes).digest())

const HASHED = /^[A-Za-z0-9_-]{1,51}_[0-9][0-9a-v]{11}$/

describe("listed names", () => {
  it("keep the plain <server>__<name> shape for ordinary names", () => {
    expect(listedNameOf("memory", "read_graph")).toBe("memory__read_graph")
    expect(listedNameOf("server-everything", "echo")).toBe("server-everything__echo")
    expect(listedNameOf("github", "list_repositories")).toBe("github__list_repositories")
    expect(listedNameOf("bank", "get_transactions")).toBe("bank__get_transactions")
    expect(listedNameOf("a_b", "_c")).toBe("a_b___c")
    expect(listedNameOf("s", "x".repeat(61))).toBe(`s__${"x".repeat(61)}`)
  })

  it("hash what sanitising, cutting or a separator in the server would make ambiguous", () => {
    for (const [server, name] of [
      ["a", "b.c"],
      ["a", "b_c"],
      ["a__b", "c"],
      ["a", "b__c"],
      ["a_", "_b"],
      ["a", "__b"],
      ["s", "x".repeat(62)],
      ["mémoire", "lire"],
      ["s", "t_0123456789ab"],
    ] as const) {
      const listed = listedNameOf(server, name)
      expect(listed, `${server} / ${name}`).toMatch(LISTED_NAME)
      if (listed !== `${server}__${name}`) expect(listed, `${server} / ${name}`).toMatch(HASHED)
    }
    expect(listedNameOf("a", "b.c")).not.toBe(listedNameOf("a", "b_c"))
    expect(listedNameOf("a__b", "c")).not.toBe(listedNameOf("a", "b__c"))
    expect(listedNameOf("a_", "_b")).not.toBe(listedNameOf("a", "__b"))
    expect(listedNameOf("a", "b.c")).toMatch(/^a__b_c_[0-9][0-9a-v]{11}$/)
    expect(listedNameOf("s", "x".repeat(200))).toBe(`s__${"x".repeat(48)}${listedNameOf("s", "x".repeat(200)).slice(-13)}`)
  })

  it("match ^[A-Za-z0-9_-]{1,64}$ whatever the server and name", () => {
    fc.assert(
      fc.property(arbPair, ([server, name]) => {
        expect(listedNameOf(server, name)).toMatch(LISTED_NAME)
      }),
      { numRuns: 3000 },
    )
  })

  it("never give two different server and name pairs the same name", () => {
    fc.assert(
      fc.property(fc.uniqueArray(arbPair, { minLength: 2, maxLength: 60, selector: ([s, n]) => JSON.stringify([s, n]) }), (pairs) => {
        const owner = new Map<string, readonly [string, string]>()
        for (const pair of pairs) {
          const listed = listedNameOf(...pair)
          expect(owner.get(listed), `${listed} for ${JSON.stringify(pair)}`).toBeUndefined()
          owner.set(listed, pair)
        }
      }),
      { numRuns: 1000 },
    )
  })

  it("tell apart every way of splitting one string into a server and a name", () => {
    fc.assert(
      fc.property(fc.array(arbPiece, { minLength: 1, maxLength: 8 }), (pieces) => {
        const pairs = Array.from({ length: pieces.length + 1 }, (_, i) => [pieces.slice(0, i).join(""), pieces.slice(i).join("")] as const)
        const distinct = new Set(pairs.map((pair) => JSON.stringify(pair)))
        expect(new Set(pairs.map((pair) => listedNameOf(...pair))).size).toBe(distinct.size)
      }),
      { numRuns: 3000 },
    )
    expect(listedNameOf("a.__", "b")).not.toBe(listedNameOf("a.", "__b"))
  })

  it("cannot be reproduced by a pair that reads the listed name back at another separator", () => {
    // A server choosing its tool names knows every other server's listed names: it must not be able to
    // echo one by splitting it at a `__` and offering the rest as its own tool.
    fc.assert(
      fc.property(arbPair, ([server, name]) => {
        const listed = listedNameOf(server, name)
        for (let at = listed.indexOf("__"); at >= 0; at = listed.indexOf("__", at + 1)) {
          const echo = [listed.slice(0, at), listed.slice(at + 2)] as const
          if (echo[0] !== server || echo[1] !== name) expect(listedNameOf(...echo), `${JSON.stringify(echo)} echoes ${listed}`).not.toBe(listed)
        }
      }),
      { numRuns: 3000 },
    )
  })

  it("depend on the server and name alone: the same in any company and on every call", () => {
    fc.assert(
      fc.property(arbPair, fc.array(arbPair, { maxLength: 5 }), ([server, name], others) => {
        const alone = listedNameOf(server, name)
        const amongOthers = [...others, [server, name] as const].map((p) => listedNameOf(...p)).at(-1)
        expect(amongOthers).toBe(alone)
      }),
    )
  })
})

describe("wrapped resource URIs", () => {
  it("take the server and its own URI back out, whatever either holds", () => {
    fc.assert(
      fc.property(arbAnyName, fc.string({ unit: "binary" }), (server, uri) => {
        const wrapped = wrappedUriOf(server, uri)
        expect(wrapped.startsWith("dtma://")).toBe(true)
        expect(mayKeepUri(wrapped)).toBe(false)
        expect(unwrapUri(wrapped)).toEqual({ segment: uriSegmentOf(server), uri })
      }),
      { numRuns: 2000 },
    )
  })

  it("give different servers different segments, as encodeURIComponent does where it can", () => {
    fc.assert(
      fc.property(arbAnyName, arbAnyName, (a, b) => {
        expect(uriSegmentOf(a) === uriSegmentOf(b)).toBe(a === b)
        expect(uriSegmentOf(a)).not.toContain("/")
        if (a.isWellFormed()) expect(uriSegmentOf(a)).toBe(encodeURIComponent(a))
      }),
      { numRuns: 2000 },
    )
    expect(uriSegmentOf("\ud800")).toBe("%ED%A0%80")
    expect(uriSegmentOf("\udfff")).not.toBe(uriSegmentOf("\ud800"))
  })

  it("keep a wrapped template expandable to the server's own URI after the prefix", () => {
    expect(wrappedUriOf("my fs", "file:///{path}")).toBe("dtma://my%20fs/file:///{path}")
    expect(unwrapUri("dtma://my%20fs/file:///docs%2Fa.txt")).toEqual({ segment: "my%20fs", uri: "file:///docs%2Fa.txt" })
  })

  it("never keep a URI of the dtma scheme as it is, and read nothing else as wrapped", () => {
    expect(mayKeepUri("dtma://a/b")).toBe(false)
    expect(mayKeepUri("DTMA:x")).toBe(false)
    expect(mayKeepUri("file:///a")).toBe(true)
    expect(unwrapUri("file:///a")).toBeNull()
    expect(unwrapUri("dtma://no-slash")).toBeNull()
  })
})
