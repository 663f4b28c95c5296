import { createHash } from "node:crypto"
import fc from "fast-check"
import * as Result from "effect/Result"
import { describe, expect, it } from "vitest"
import { accessTo, ruleAllows } from "../../src/access/grants.ts"
import { aggregateCatalog, routeResource, type AggregateCatalog, type GrantedServer } from "../../src/mcp/aggregateCatalog.ts"
import { listedNames, mayKeepUri, wrappedUriOf } from "../../src/mcp/aggregateNames.ts"
import { arbGrantedServers } from "./arbAggregate.ts"

// The edge hashes with Node's crypto; so do the tests.
const listedNameOf = listedNames((bytes) => createHash("sha256").update(bytes).digest())
/** The catalog as the edge builds it (names hashed with SHA-256); `nameOf` may be replaced. */
const catalogOf = (servers: Parameters<typeof aggregateCatalog>[0], options: Partial<Parameters<typeof aggregateCatalog>[1]> = {}) =>
  aggregateCatalog(servers, { nameOf: listedNameOf, ...options })

type Entry = Readonly<Record<string, unknown>>
const meta = (item: Entry) => item["_meta"] as Record<string, unknown>
const mayList = (server: GrantedServer, kind: "tools" | "prompts", name: string) => server.access === "everything" || ruleAllows(server.access[kind], name)
const mayRead = (server: GrantedServer) => server.access === "everything" || server.access.resources
const namesOf = (items: ReadonlyArray<Entry>) => items.map((i) => i["name"] as string)
const expand = (template: string) => template.replace(/\{[^}]*\}/g, "v%2Fw")
const routed = (catalog: AggregateCatalog, uri: string) => Result.getOrThrow(routeResource(catalog, uri))

const server = (name: string, offer: Partial<NonNullable<GrantedServer["offer"]>>, access: GrantedServer["access"] = "everything"): GrantedServer => ({
  name,
  access,
  available: true,
  offer: { tools: [], prompts: [], resources: [], resourceTemplates: [], instructions: null, ...offer },
})

describe("the aggregate catalog", () => {
  it("lists exactly the granted tools and prompts of available servers, renamed, and routes each back to its origin", () => {
    fc.assert(
      fc.property(arbGrantedServers, (servers) => {
        const catalog = catalogOf(servers)
        expect(catalog.collisions).toEqual([])
        for (const kind of ["tools", "prompts"] as const) {
          const routes = kind === "tools" ? catalog.toolRoutes : catalog.promptRoutes
          const expected = servers
            .filter((s) => s.available)
            .flatMap((s) => (s.offer?.[kind] ?? []).filter((i) => mayList(s, kind, i["name"] as string)).map((i) => [s.name, i["name"] as string]))
          expect(catalog[kind].map((i) => [meta(i)["dtma/server"], meta(i)["dtma/name"]]).sort()).toEqual(expected.sort())
          for (const item of catalog[kind]) {
            const [origin, name] = [meta(item)["dtma/server"] as string, meta(item)["dtma/name"] as string]
            expect(item["name"]).toBe(listedNameOf(origin, name))
            expect(routes.get(item["name"] as string)).toEqual({ server: origin, name, available: true })
          }
        }
        expect(catalog.tools.every((t) => meta(t)["own"] === 1)).toBe(true)
      }),
      { numRuns: 500 },
    )
  })

  it("hides an unavailable server's items but still routes its granted ones, marked unavailable", () => {
    fc.assert(
      fc.property(arbGrantedServers, (servers) => {
        const catalog = catalogOf(servers)
        const down = new Set(servers.filter((s) => !s.available).map((s) => s.name))
        const listed = [...catalog.tools, ...catalog.prompts, ...catalog.resources, ...catalog.resourceTemplates]
        expect(listed.filter((i) => down.has(meta(i)["dtma/server"] as string))).toEqual([])
        for (const s of servers.filter((x) => !x.available)) {
          for (const tool of (s.offer?.tools ?? []).filter((t) => mayList(s, "tools", t["name"] as string))) {
            expect(catalog.toolRoutes.get(listedNameOf(s.name, tool["name"] as string))).toEqual({ server: s.name, name: tool["name"], available: false })
          }
          if (mayRead(s)) expect(routed(catalog, wrappedUriOf(s.name, "file:///a"))).toEqual({ server: s.name, uri: "file:///a", available: false })
        }
      }),
      { numRuns: 300 },
    )
  })

  it("lists a server's tools under the same names whatever other servers are granted", () => {
    fc.assert(
      fc.property(arbGrantedServers, (servers) => {
        const together = catalogOf(servers)
        for (const s of servers) {
          const alone = catalogOf([s])
          expect(namesOf(together.tools.filter((t) => meta(t)["dtma/server"] === s.name))).toEqual(namesOf(alone.tools))
        }
      }),
      { numRuns: 300 },
    )
  })

  it("lists resources only where resources are granted, keeps a URI one server alone offers, and routes every listed URI back", () => {
    fc.assert(
      fc.property(arbGrantedServers, (servers) => {
        const catalog = catalogOf(servers)
        const readable = servers.filter(mayRead)
        const offering = (uri: string) => readable.filter((s) => (s.offer?.resources ?? []).some((r) => r["uri"] === uri)).length
        expect(catalog.resources.length).toBe(new Set(catalog.resources.map((r) => r["uri"])).size)
        for (const item of catalog.resources) {
          const [origin, uri] = [meta(item)["dtma/server"] as string, meta(item)["dtma/uri"] as string]
          expect(readable.find((s) => s.name === origin)?.available).toBe(true)
          expect(item["uri"]).toBe(mayKeepUri(uri) && offering(uri) === 1 ? uri : wrappedUriOf(origin, uri))
          expect(routed(catalog, item["uri"] as string)).toEqual({ server: origin, uri, available: true })
        }
        for (const s of servers.filter((x) => !mayRead(x))) {
          expect(Result.isFailure(routeResource(catalog, wrappedUriOf(s.name, "file:///a")))).toBe(true)
        }
      }),
      { numRuns: 500 },
    )
  })

  it("wraps every resource template so that its expansions route to its server as the server's own template would expand", () => {
    fc.assert(
      fc.property(arbGrantedServers, (servers) => {
        const catalog = catalogOf(servers)
        const expected = servers.filter((s) => s.available && mayRead(s)).flatMap((s) => s.offer?.resourceTemplates ?? [])
        expect(catalog.resourceTemplates.length).toBe(expected.length)
        for (const item of catalog.resourceTemplates) {
          const [origin, template] = [meta(item)["dtma/server"] as string, meta(item)["dtma/uriTemplate"] as string]
          expect(item["uriTemplate"]).toBe(wrappedUriOf(origin, template))
          expect(routed(catalog, expand(item["uriTemplate"] as string))).toEqual({ server: origin, uri: expand(template), available: true })
        }
      }),
      { numRuns: 500 },
    )
  })

  it("routes an unlisted URI to the one server whose template or list holds it, and says which servers when several do", () => {
    const catalog = catalogOf([
      server("docs", { resourceTemplates: [{ uriTemplate: "file:///docs/{name}", name: "doc" }], resources: [{ uri: "file:///shared", name: "s" }] }),
      server("fs", { resourceTemplates: [{ uriTemplate: "file:///{path}", name: "file" }], resources: [{ uri: "file:///shared", name: "s" }] }),
      server("mem", { resourceTemplates: [{ uriTemplate: "memory://{id}", name: "entity" }] }),
      server("gh", { resourceTemplates: [{ uriTemplate: "repo://{owner}/{repo}/issues/{n}{?fields}", name: "issue" }] }),
    ])
    expect(routed(catalog, "repo://a/b/issues/3?fields=title")).toEqual({ server: "gh", uri: "repo://a/b/issues/3?fields=title", available: true })
    expect(Result.isFailure(routeResource(catalog, "repo://a/b/pulls/3"))).toBe(true)
    expect(Result.isFailure(routeResource(catalog, "repo://issues/"))).toBe(true)
    expect(routed(catalog, "memory://42")).toEqual({ server: "mem", uri: "memory://42", available: true })
    expect(routed(catalog, "file:///etc/x")).toEqual({ server: "fs", uri: "file:///etc/x", available: true })
    expect(routed(catalog, "dtma://docs/file:///shared")).toEqual({ server: "docs", uri: "file:///shared", available: true })
    const ambiguous = routeResource(catalog, "file:///docs/a")
    expect(Result.isFailure(ambiguous) && ambiguous.failure.servers).toEqual(["docs", "fs"])
    expect(Result.isFailure(ambiguous) && ambiguous.failure.message).toContain("dtma://<server>/<uri>")
    expect(Result.isFailure(routeResource(catalog, "other://x"))).toBe(true)
    expect(Result.isFailure(routeResource(catalog, "dtma://nobody/x"))).toBe(true)
    const single = catalogOf([server("only", { resources: [{ uri: "a://1" }] })])
    expect(routed(single, "b://2")).toEqual({ server: "only", uri: "b://2", available: true })
  })

  it("joins the servers' instructions, each under its server's name", () => {
    const catalog = catalogOf([server("b", { instructions: "Use b." }), server("a", { instructions: "Use a.\nCarefully." }), server("c", {})])
    expect(catalog.instructions).toBe("## a\nUse a.\nCarefully.\n\n## b\nUse b.")
    expect(catalogOf([server("c", {})]).instructions).toBeNull()
  })

  it("lists an item a server lists twice once, and keeps the item's own fields and _meta", () => {
    const tool = { name: "echo", inputSchema: { type: "object" }, _meta: { "vendor/x": 1 } }
    const catalog = catalogOf([server("s", { tools: [tool, tool] })])
    expect(catalog.tools).toEqual([{ ...tool, name: "s__echo", _meta: { "vendor/x": 1, "dtma/server": "s", "dtma/name": "echo" } }])
  })

  it("lists and routes neither of two items that arrive at one name, and reports the name", () => {
    const catalog = catalogOf([server("a", { tools: [{ name: "x" }, { name: "y" }] }), server("b", { tools: [{ name: "x" }] })], {
      nameOf: (s, n) => (n === "x" ? "same" : `${s}__${n}`),
    })
    expect(catalog.collisions).toEqual(["same"])
    expect(namesOf(catalog.tools)).toEqual(["a__y"])
    expect(catalog.toolRoutes.has("same")).toBe(false)
  })

  it("filters by the grants' patterns: a tool no pattern names is neither listed nor routed", () => {
    const access = accessTo([{ target: { server: "s" }, tools: ["read_*"], prompts: [], resources: false }], { name: "s", accountToolInstanceId: null })!
    const catalog = catalogOf([
      server("s", { tools: [{ name: "read_graph" }, { name: "delete_all" }], prompts: [{ name: "p" }], resources: [{ uri: "x://1" }] }, access),
    ])
    expect(namesOf(catalog.tools)).toEqual(["s__read_graph"])
    expect([...catalog.toolRoutes.keys(), ...catalog.promptRoutes.keys(), ...catalog.resourceRoutes.keys()]).toEqual(["s__read_graph"])
    expect([catalog.prompts, catalog.resources]).toEqual([[], []])
  })
})
