import * as Data from "effect/Data"
import * as Result from "effect/Result"
import { ruleAllows, type ServerAccess } from "../access/grants.ts"
import { mayKeepUri, unwrapUri, uriSegmentOf, wrappedUriOf } from "./aggregateNames.ts"
import type { CapabilitySnapshot } from "./discovery.ts"

/**
 * What `/mcp` lists for one caller: the union of its granted servers' items, renamed (see
 * `aggregateNames.ts`), filtered by its grants, and the routes that take a listed name back to its
 * server. Items a grant does not allow are neither listed nor routed, as if they did not exist.
 * An unavailable server's items leave the lists but keep their routes, marked unavailable, so a call
 * to one can be answered with an error naming the server instead of "unknown tool".
 */

type Entry = Readonly<Record<string, unknown>>

/** What discovery found on a server, with the instructions its `initialize` answered. */
export type ServerOffer = Pick<CapabilitySnapshot, "tools" | "prompts" | "resources" | "resourceTemplates"> & { readonly instructions: string | null }

/** A server granted to the caller. */
export interface GrantedServer {
  readonly name: string
  /** What the grants allow on it; `"everything"` for the operator. */
  readonly access: ServerAccess | "everything"
  /** Healthy or degraded: its items are listed. */
  readonly available: boolean
  /** Null when nothing has been discovered yet. */
  readonly offer: ServerOffer | null
}

export interface ItemRoute {
  readonly server: string
  readonly name: string
  readonly available: boolean
}

export interface ResourceRoute {
  readonly server: string
  readonly uri: string
  readonly available: boolean
}

/** A server whose resources the caller may read, as resource routing needs it. */
export interface ResourceServer {
  readonly name: string
  readonly available: boolean
  readonly uris: ReadonlySet<string>
  /** Its templates' literal parts. */
  readonly templates: ReadonlyArray<ReadonlyArray<string>>
}

export interface AggregateCatalog {
  readonly tools: ReadonlyArray<Entry>
  readonly prompts: ReadonlyArray<Entry>
  readonly resources: ReadonlyArray<Entry>
  readonly resourceTemplates: ReadonlyArray<Entry>
  /** Each server's instructions under its name, or null when none has any. */
  readonly instructions: string | null
  readonly toolRoutes: ReadonlyMap<string, ItemRoute>
  readonly promptRoutes: ReadonlyMap<string, ItemRoute>
  /** Listed resource URIs; other URIs go through {@link routeResource}. */
  readonly resourceRoutes: ReadonlyMap<string, ResourceRoute>
  /** By percent-encoded name, the segment wrapped URIs carry. */
  readonly resourceServers: ReadonlyMap<string, ResourceServer>
  /** Listed names two different items arrived at (a hash collision): neither is listed nor routed. */
  readonly collisions: ReadonlyArray<string>
}

/** A resource URI no granted server can be told to own. `servers` lists those that could (none, or several). */
export class UnroutableResource extends Data.TaggedError("UnroutableResource")<{
  readonly uri: string
  readonly servers: ReadonlyArray<string>
}> {
  override get message(): string {
    return this.servers.length === 0
      ? `No granted server offers the resource '${this.uri}'`
      : `The resource '${this.uri}' is offered by ${this.servers.join(", ")}; read it as dtma://<server>/<uri> to choose one`
  }
}

const isRecord = (value: unknown): value is Entry => typeof value === "object" && value !== null && !Array.isArray(value)

const withMeta = (item: Entry, changes: Entry, meta: Entry): Entry => ({
  ...item,
  ...changes,
  _meta: { ...(isRecord(item["_meta"]) ? item["_meta"] : {}), ...meta },
})

const stringField = (item: Entry, key: string): string | null => (typeof item[key] === "string" ? item[key] : null)

const namedItems = (servers: ReadonlyArray<GrantedServer>, kind: "tools" | "prompts", nameOf: (server: string, name: string) => string) => {
  const routes = new Map<string, ItemRoute>()
  const listed: Array<Entry> = []
  const collisions = new Set<string>()
  for (const server of servers) {
    for (const item of server.offer?.[kind] ?? []) {
      const name = stringField(item, "name")
      if (name === null || (server.access !== "everything" && !ruleAllows(server.access[kind], name))) continue
      const key = nameOf(server.name, name)
      const seen = routes.get(key)
      if (seen !== undefined) {
        if (seen.server !== server.name || seen.name !== name) collisions.add(key)
        continue
      }
      routes.set(key, { server: server.name, name, available: server.available })
      if (server.available) listed.push(withMeta(item, { name: key }, { "dtma/server": server.name, "dtma/name": name }))
    }
  }
  for (const key of collisions) routes.delete(key)
  return { items: listed.filter((i) => !collisions.has(i["name"] as string)), routes, collisions: [...collisions] }
}

/** A URI template's literal parts, around its `{...}` expressions. */
const literalsOf = (template: string): ReadonlyArray<string> => template.split(/\{[^}]*\}/)

/**
 * Whether `uri` could be an expansion of a template: its literal parts in order, anything in place of
 * each expression. Leftmost matches suffice, so no backtracking: a server's templates cannot make it slow.
 */
const couldExpand = (literals: ReadonlyArray<string>, uri: string): boolean => {
  const [first = "", ...rest] = literals
  const last = rest.pop()
  if (last === undefined) return uri === first
  const end = uri.length - last.length
  if (!uri.startsWith(first) || !uri.endsWith(last) || end < first.length) return false
  let at = first.length
  for (const middle of rest) {
    const found = uri.indexOf(middle, at)
    if (found < 0 || found + middle.length > end) return false
    at = found + middle.length
  }
  return true
}

const resourceItems = (servers: ReadonlyArray<GrantedServer>) => {
  const readable = servers.filter((s) => s.access === "everything" || s.access.resources)
  const uriLists = new Map(readable.map((s) => [s.name, (s.offer?.resources ?? []).flatMap((r) => stringField(r, "uri") ?? [])]))
  const owners = new Map<string, number>()
  for (const uris of uriLists.values()) for (const uri of new Set(uris)) owners.set(uri, (owners.get(uri) ?? 0) + 1)
  const routes = new Map<string, ResourceRoute>()
  const resources: Array<Entry> = []
  const resourceTemplates: Array<Entry> = []
  const resourceServers = new Map<string, ResourceServer>()
  for (const server of readable) {
    const meta = (item: Entry, key: string, value: string): Entry => ({ "dtma/server": server.name, ...nameMeta(item), [key]: value })
    for (const item of server.offer?.resources ?? []) {
      const uri = stringField(item, "uri")
      if (uri === null) continue
      const listedUri = mayKeepUri(uri) && owners.get(uri) === 1 ? uri : wrappedUriOf(server.name, uri)
      if (routes.has(listedUri)) continue
      routes.set(listedUri, { server: server.name, uri, available: server.available })
      if (server.available) resources.push(withMeta(item, { uri: listedUri }, meta(item, "dtma/uri", uri)))
    }
    const templates = (server.offer?.resourceTemplates ?? []).flatMap((t) => stringField(t, "uriTemplate") ?? [])
    if (server.available) {
      for (const item of server.offer?.resourceTemplates ?? []) {
        const template = stringField(item, "uriTemplate")
        if (template !== null)
          resourceTemplates.push(withMeta(item, { uriTemplate: wrappedUriOf(server.name, template) }, meta(item, "dtma/uriTemplate", template)))
      }
    }
    resourceServers.set(uriSegmentOf(server.name), {
      name: server.name,
      available: server.available,
      uris: new Set(uriLists.get(server.name)),
      templates: templates.map(literalsOf),
    })
  }
  return { resources, resourceTemplates, routes, resourceServers }
}

const nameMeta = (item: Entry): Entry => {
  const name = stringField(item, "name")
  return name === null ? {} : { "dtma/name": name }
}

const instructionsOf = (servers: ReadonlyArray<GrantedServer>): string | null => {
  const parts = servers.flatMap((s) => (s.offer?.instructions ? [`## ${s.name}\n${s.offer.instructions}`] : []))
  return parts.length === 0 ? null : parts.join("\n\n")
}

/**
 * The catalog of `/mcp` for a caller granted `servers`. Servers come in name order, each server's
 * items in its own order; an item a server lists twice is listed once. The instructions of every
 * granted server are kept, available or not: a session gets them once, at `initialize`.
 */
export const aggregateCatalog = (
  servers: ReadonlyArray<GrantedServer>,
  /** `nameOf`: the listed name of a server's tool or prompt (`listedNames(sha256)`). */
  options: { readonly nameOf: (server: string, name: string) => string },
): AggregateCatalog => {
  const sorted = [...servers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const { nameOf } = options
  const tools = namedItems(sorted, "tools", nameOf)
  const prompts = namedItems(sorted, "prompts", nameOf)
  const resources = resourceItems(sorted)
  return {
    tools: tools.items,
    prompts: prompts.items,
    resources: resources.resources,
    resourceTemplates: resources.resourceTemplates,
    instructions: instructionsOf(sorted),
    toolRoutes: tools.routes,
    promptRoutes: prompts.routes,
    resourceRoutes: resources.routes,
    resourceServers: resources.resourceServers,
    collisions: [...tools.collisions, ...prompts.collisions],
  }
}

/**
 * The server a `resources/read` (or subscribe, or completion) URI belongs to: a listed URI's owner; a
 * wrapped URI's server (a wrapped template's expansion too); otherwise the one readable server that
 * lists the URI or has a template matching it, or the only readable server there is.
 */
export const routeResource = (catalog: AggregateCatalog, uri: string): Result.Result<ResourceRoute, UnroutableResource> => {
  const listed = catalog.resourceRoutes.get(uri)
  if (listed !== undefined) return Result.succeed(listed)
  const wrapped = unwrapUri(uri)
  if (wrapped !== null) {
    const server = catalog.resourceServers.get(wrapped.segment)
    return server === undefined
      ? Result.fail(new UnroutableResource({ uri, servers: [] }))
      : Result.succeed({ server: server.name, uri: wrapped.uri, available: server.available })
  }
  const readable = [...catalog.resourceServers.values()]
  const owners = readable.length === 1 ? readable : readable.filter((s) => s.uris.has(uri) || s.templates.some((t) => couldExpand(t, uri)))
  const [only] = owners
  return owners.length === 1 && only !== undefined
    ? Result.succeed({ server: only.name, uri, available: only.available })
    : Result.fail(new UnroutableResource({ uri, servers: owners.map((s) => s.name) }))
}
