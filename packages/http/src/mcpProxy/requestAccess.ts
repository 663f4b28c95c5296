import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { accessTo, type CallerIdentity, type Grants, type McpServers, type ServerAccess, type ServerRef } from "@dtma/domain"

/** An operator's reach: every tool, prompt and resource, lists and answers passed through untouched. */
export const EVERYTHING = "everything"

/** What one request may reach on its server: everything (an operator), or what its agent's grants allow there. */
export type RequestAccess = typeof EVERYTHING | ServerAccess

/**
 * On the agent endpoint `/mcp`: what a request may reach is worked out for the server it goes to,
 * from its caller's grants (`requestAccessOf`), not once for the endpoint.
 */
export const EACH_SERVER = "each server"

/** What a request may reach on its endpoint: on one server's, `RequestAccess`; on `/mcp`, `EACH_SERVER`. */
export type EndpointAccess = RequestAccess | typeof EACH_SERVER

/** Who a request is from, and what it may reach. */
export interface Authorized {
  readonly caller: CallerIdentity
  readonly access: EndpointAccess
}

const NO_NAMES = { exact: new Set<string>(), prefixes: [] }

/** What no grant allows: nothing at all. */
export const NOTHING: ServerAccess = { tools: NO_NAMES, prompts: NO_NAMES, resources: false }

/**
 * What a request may reach on the one server of its endpoint. `EACH_SERVER` belongs to `/mcp`, whose
 * requests never come here; should one, it reaches nothing (fails closed).
 */
export const serverAccessOf = (authorized: Authorized): RequestAccess => (authorized.access === EACH_SERVER ? NOTHING : authorized.access)

/**
 * The server as grants name it. A name nothing serves has no `accountToolInstanceId`, so only a
 * grant by that very name can name it: a refusal then reads the same whether the server exists or not.
 */
export const serverRefOf = (mcpServers: Pick<McpServers, "get">, name: string): ServerRef => {
  const view = Effect.runSyncExit(mcpServers.get(name))
  return { name, accountToolInstanceId: Exit.isSuccess(view) ? view.value.accountToolInstanceId : null }
}

/** Servers whose access is kept per grants: an agent naming ever more servers (most of which none serves) cannot grow it further. */
export const MAX_SERVERS_PER_GRANTS = 256

/** What grants allow, by server name, then by account tool instance id. */
type Resolved = Map<string, Map<string | null, ServerAccess | null>>

// A verified token's identity, grants included, is the same object on each of its requests (the
// verifier caches it): what those grants allow on a server is worked out once, not per request.
const resolved = new WeakMap<Grants, { readonly byName: Resolved; size: number }>()

const accessOnce = (grants: Grants, server: ServerRef): ServerAccess | null => {
  let memo = resolved.get(grants)
  if (memo === undefined) {
    memo = { byName: new Map(), size: 0 }
    resolved.set(grants, memo)
  }
  const instance = server.accountToolInstanceId
  const known = memo.byName.get(server.name)?.get(instance)
  if (known !== undefined) return known
  const access = accessTo(grants, server)
  if (memo.size < MAX_SERVERS_PER_GRANTS) {
    const byInstance = memo.byName.get(server.name) ?? new Map<string | null, ServerAccess | null>()
    memo.byName.set(server.name, byInstance.set(instance, access))
    memo.size++
  }
  return access
}

/** What `caller` may reach on `server`; null when it is an agent no grant of whose names the server. */
export const requestAccessOf = (caller: CallerIdentity, server: ServerRef): RequestAccess | null =>
  caller.kind === "operator" ? EVERYTHING : accessOnce(caller.grants, server)
