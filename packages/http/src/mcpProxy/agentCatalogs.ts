import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { aggregateCatalog, listedNames, type AggregateCatalog, type CallerIdentity, type GrantedServer, type McpServers, type ServerRef } from "@dtma/domain"
import { EVERYTHING, requestAccessOf, type RequestAccess } from "./requestAccess.ts"

/** How `/mcp` lists a server's tool or prompt: `<server>__<name>`, hashed with SHA-256 when that would lose or confuse anything. */
const nameOf = listedNames((bytes) => createHash("sha256").update(bytes).digest())

/** The lists a `list_changed` names: tools, prompts, and resources with their templates. */
export type ChangeKind = "tools" | "prompts" | "resources"

/** The catalogs of `/mcp` (`aggregateCatalog`), one per set of grants, worked out from memory once per change of the servers. */
export interface AgentCatalogs {
  /** What `caller` is listed and routed to now. */
  of(caller: CallerIdentity): AggregateCatalog
  /** What the operator is listed: whether an agent's request names something its grants hide. */
  everything(): AggregateCatalog
  /** The servers changed: every catalog is worked out again when next asked for. */
  invalidate(): void
  /** The servers a catalog routes to, available or not. */
  serversOf(catalog: AggregateCatalog): ReadonlySet<string>
  /** A text equal for two catalogs exactly when they list the same items of `kind`. */
  fingerprint(catalog: AggregateCatalog, kind: ChangeKind): string
  /** Each listed name and URI of a catalog (`tool <name>`, `prompt <name>`, `resource <uri>`) with its server. */
  routesOf(catalog: AggregateCatalog): Iterable<readonly [string, string]>
}

const serving = (health: string): boolean => health === "healthy" || health === "degraded"

export const makeAgentCatalogs = (mcpServers: McpServers): AgentCatalogs => {
  let version = 0
  // By grants object: a verified token's identity is the same object on each of its requests (the
  // verifier caches it), so the sessions of one token share one catalog.
  const cache = new WeakMap<object, { readonly version: number; readonly catalog: AggregateCatalog }>()
  const OPERATOR = {}
  const fingerprints = new WeakMap<AggregateCatalog, Map<ChangeKind, string>>()

  const instructionsOf = (name: string): string | null => {
    const session = Effect.runSyncExit(mcpServers.session(name))
    return Exit.isSuccess(session) ? session.value.hello.instructions : null
  }

  const grantedServers = (accessOf: (ref: ServerRef) => RequestAccess | null): ReadonlyArray<GrantedServer> =>
    mcpServers.list().flatMap((view) => {
      const access = accessOf({ name: view.instanceName, accountToolInstanceId: view.accountToolInstanceId })
      if (access === null) return []
      const available = serving(view.healthStatus)
      const found = view.capabilities
      const offer =
        found === null
          ? null
          : {
              tools: found.tools,
              prompts: found.prompts,
              resources: found.resources,
              resourceTemplates: found.resourceTemplates,
              instructions: available ? instructionsOf(view.instanceName) : null,
            }
      return [{ name: view.instanceName, access, available, offer }]
    })

  const cached = (key: object, accessOf: (ref: ServerRef) => RequestAccess | null): AggregateCatalog => {
    const known = cache.get(key)
    if (known?.version === version) return known.catalog
    const catalog = aggregateCatalog(grantedServers(accessOf), { nameOf })
    cache.set(key, { version, catalog })
    return catalog
  }

  return {
    of: (caller) => (caller.kind === "operator" ? cached(OPERATOR, () => EVERYTHING) : cached(caller.grants, (ref) => requestAccessOf(caller, ref))),
    everything: () => cached(OPERATOR, () => EVERYTHING),
    invalidate: () => void version++,
    serversOf: (catalog) =>
      new Set([
        ...[...catalog.toolRoutes.values()].map((r) => r.server),
        ...[...catalog.promptRoutes.values()].map((r) => r.server),
        ...[...catalog.resourceServers.values()].map((s) => s.name),
      ]),
    fingerprint: (catalog, kind) => {
      const known = fingerprints.get(catalog) ?? new Map<ChangeKind, string>()
      fingerprints.set(catalog, known)
      const found = known.get(kind)
      if (found !== undefined) return found
      const text = JSON.stringify(kind === "resources" ? [catalog.resources, catalog.resourceTemplates] : catalog[kind])
      known.set(kind, text)
      return text
    },
    routesOf: function* (catalog) {
      for (const [name, r] of catalog.toolRoutes) yield [`tool ${name}`, r.server] as const
      for (const [name, r] of catalog.promptRoutes) yield [`prompt ${name}`, r.server] as const
      for (const [uri, r] of catalog.resourceRoutes) yield [`resource ${uri}`, r.server] as const
    },
  }
}
