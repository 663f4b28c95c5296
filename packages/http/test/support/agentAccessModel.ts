import fc from "fast-check"
import type { Grant, Grants, GrantTarget } from "@dtma/domain"

// The agent-access spec ("Access tokens", "On MCP endpoints") as a plain model: the oracle the
// property test over the HTTP app checks it against. Written from the spec's words, not from the
// implementation: nothing here calls the domain's decision functions.

/** A server as the test knows it: what the grants fixture (or its twin) holds, or nothing. */
export interface ModelServer {
  readonly name: string
  readonly accountToolInstanceId: string | null
  readonly exists: boolean
  readonly tools: ReadonlyArray<string>
  readonly prompts: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  /** A resource template matches a uri with this prefix. */
  readonly templates: ReadonlyArray<{ readonly uriTemplate: string; readonly prefix: string }>
}

const ITEMS = { uriTemplate: "test://items/{id}", prefix: "test://items/" }
const TWIN_TOOLS = ["echo", "touch", "log", "hold", "search_a", "search_b"]

/** `grantsSupport.ts`'s fixture, deployed for account tool instance `ati-fixture`. */
export const FIXTURE: ModelServer = {
  name: "fixture",
  accountToolInstanceId: "ati-fixture",
  exists: true,
  tools: [...TWIN_TOOLS, "secret"],
  prompts: ["greet", "private"],
  resources: ["test://open", "test://secret"],
  templates: [ITEMS],
}
/** The fixture without its secrets: what a server answers for what it does not have. */
export const TWIN: ModelServer = {
  name: "twin",
  accountToolInstanceId: null,
  exists: true,
  tools: TWIN_TOOLS,
  prompts: ["greet"],
  resources: ["test://open"],
  templates: [],
}
export const GHOST: ModelServer = { name: "ghost", accountToolInstanceId: null, exists: false, tools: [], prompts: [], resources: [], templates: [] }
export const SERVERS = [FIXTURE, TWIN, GHOST] as const

// --- grants ---------------------------------------------------------------------------------

const TOOL_PATTERNS = ["echo", "secret", "search_a", "search_*", "s*", "e*", "*", "nope", "constructor", "con*"]
const PROMPT_PATTERNS = ["greet", "private", "p*", "g*", "*", "constructor"]

const arbPatterns = (patterns: ReadonlyArray<string>) =>
  fc.oneof(fc.constant(["*"]), fc.constant([]), fc.uniqueArray(fc.constantFrom(...patterns), { minLength: 1, maxLength: 3 }))

const grantOn = (target: fc.Arbitrary<GrantTarget>): fc.Arbitrary<Grant> =>
  fc.record({ target, tools: arbPatterns(TOOL_PATTERNS), prompts: arbPatterns(PROMPT_PATTERNS), resources: fc.boolean() })

export const arbGrant: fc.Arbitrary<Grant> = grantOn(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("fixture", "twin", "ghost", "elsewhere").map((server) => ({ server })) },
    { weight: 1, arbitrary: fc.constantFrom("ati-fixture", "ati-ghost").map((accountToolInstanceId) => ({ accountToolInstanceId })) },
  ),
)

const targetKey = (g: Grant): string => JSON.stringify(g.target)

/** Grants as a token carries them: at most one item per server name or account tool instance. */
export const arbGrants: fc.Arbitrary<Grants> = fc.uniqueArray(arbGrant, { maxLength: 3, selector: targetKey })

/** Grants that mostly name `server` (by name, or by its account tool instance), among others. */
export const arbGrantsFor = (server: ModelServer): fc.Arbitrary<Grants> => {
  const ati = server.accountToolInstanceId
  const naming = grantOn(
    ati === null ? fc.constant({ server: server.name }) : fc.constantFrom<GrantTarget>({ server: server.name }, { accountToolInstanceId: ati }),
  )
  return fc
    .tuple(fc.option(naming, { freq: 4, nil: null }), arbGrants)
    .map(([first, rest]) => (first === null ? rest : [first, ...rest.filter((g) => targetKey(g) !== targetKey(first))]))
}

/** "an item names one server by `server` (its instance name) or `accountToolInstanceId`". */
const names = (grant: Grant, server: ModelServer): boolean =>
  "server" in grant.target
    ? grant.target.server === server.name
    : server.accountToolInstanceId !== null && grant.target.accountToolInstanceId === server.accountToolInstanceId

/** "a trailing `*` matches a prefix; `[]` allows none". */
const matches = (pattern: string, name: string): boolean => (pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : pattern === name)

/** What grants allow on a server, each grant naming it adding to it; null when none names it. */
export interface ModelAccess {
  readonly tool: (name: string) => boolean
  readonly prompt: (name: string) => boolean
  readonly resources: boolean
}

export const accessOn = (grants: Grants, server: ModelServer): ModelAccess | null => {
  const naming = grants.filter((g) => names(g, server))
  if (naming.length === 0) return null
  return {
    tool: (name) => naming.some((g) => g.tools.some((p) => matches(p, name))),
    prompt: (name) => naming.some((g) => g.prompts.some((p) => matches(p, name))),
    resources: naming.some((g) => g.resources),
  }
}

export const EVERYTHING: ModelAccess = { tool: () => true, prompt: () => true, resources: true }

// --- callers and the MCP endpoint's edge ----------------------------------------------------------

/** Who a request is from, as the spec sees it: no credential, a refused one, an operator key, an agent's token. */
export type Caller =
  | { readonly kind: "none" }
  | { readonly kind: "invalid" }
  | { readonly kind: "operator" }
  | { readonly kind: "agent"; readonly sub: string; readonly jti: string; readonly grants: Grants }

/** "The operator key … sees every server"; an agent what its grants name; anyone else nothing. */
export const accessOf = (caller: Caller, server: ModelServer): ModelAccess | null =>
  caller.kind === "operator" ? EVERYTHING : caller.kind === "agent" ? accessOn(caller.grants, server) : null

/** A client session belongs to whoever opened it: the operator (any of its keys), or one agent. */
export interface ModelSession {
  readonly id: string
  readonly owner: Caller
}

const owns = (owner: Caller, caller: Caller): boolean =>
  owner.kind === "operator" ? caller.kind === "operator" : owner.kind === "agent" && caller.kind === "agent" && owner.sub === caller.sub

/** How the MCP endpoint refuses a request before any session takes it. */
export interface EdgeRefusal {
  readonly status: number
  /** The JSON-RPC error code of the answer. */
  readonly code: number
  /** `data.error` of the JSON-RPC error (an OAuth error code), for refusals of who the caller is. */
  readonly error: string | null
  /** One error per request, under its id (a server that does not exist); else one, its id null. */
  readonly perRequest: boolean
}

/**
 * The refusal of a request on `server`'s endpoint ("On MCP endpoints"): no token 401; a refused one
 * 401 `invalid_token`; no grant naming the server 403 `insufficient_scope`, whether it exists or not;
 * then, as before agent access: a server that does not exist 404, a session that is not the
 * caller's (or none) 404, an `initialize` inside a session 400. Null: the session takes it.
 */
export const edgeOf = (
  caller: Caller,
  server: ModelServer,
  request: { readonly session: ModelSession | null; readonly opening: boolean; readonly initialize: boolean },
): EdgeRefusal | null => {
  if (caller.kind === "none") return { status: 401, code: -32010, error: "unauthorized", perRequest: false }
  if (caller.kind === "invalid") return { status: 401, code: -32010, error: "invalid_token", perRequest: false }
  if (accessOf(caller, server) === null) return { status: 403, code: -32011, error: "insufficient_scope", perRequest: false }
  if (!server.exists) return { status: 404, code: -32600, error: null, perRequest: true }
  if (request.opening) return null
  if (request.session === null || !owns(request.session.owner, caller)) return { status: 404, code: -32001, error: null, perRequest: false }
  if (request.initialize) return { status: 400, code: -32600, error: null, perRequest: false }
  return null
}

// --- MCP requests -----------------------------------------------------------------------------

/** What a request asks for: the server as a whole, one tool, prompt or resource, or nothing MCP defines. */
export type Item =
  | { readonly kind: "server" }
  | { readonly kind: "tool"; readonly name: string }
  | { readonly kind: "prompt"; readonly name: string }
  | { readonly kind: "resource"; readonly name: string }
  | { readonly kind: "template"; readonly name: string }
  | { readonly kind: "unknown" }

export interface Ask {
  readonly method: string
  readonly params: Readonly<Record<string, unknown>>
  readonly item: Item
}

const TOOL_NAMES = ["echo", "search_a", "search_b", "secret", "nope", "constructor"]
const PROMPT_NAMES = ["greet", "private", "nope", "constructor"]
const URIS = ["test://open", "test://secret", "test://items/1", "test://nope", "nota uri"]
const TEMPLATES = ["test://items/{id}", "test://nope/{id}"]

const whole = (method: string, params: Record<string, unknown> = {}): Ask => ({ method, params, item: { kind: "server" } })

/** Every MCP method a client sends (and one no server has), on names the fixture has and has not. */
export const arbAsk: fc.Arbitrary<Ask> = fc.oneof(
  fc.constant(whole("ping")),
  fc.constant(whole("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "prop", version: "1" } })),
  fc.constantFrom(undefined, "3", "6").map((cursor) => whole("tools/list", cursor === undefined ? {} : { cursor })),
  fc.constantFrom("prompts/list", "resources/list", "resources/templates/list").map((m) => whole(m)),
  fc.constant(whole("logging/setLevel", { level: "info" })),
  fc.constantFrom(...TOOL_NAMES).map((name): Ask => ({ method: "tools/call", params: { name, arguments: { text: "hi" } }, item: { kind: "tool", name } })),
  fc.constantFrom(...PROMPT_NAMES).map((name): Ask => ({ method: "prompts/get", params: { name, arguments: { who: "ann" } }, item: { kind: "prompt", name } })),
  fc.constantFrom(...URIS).map((uri): Ask => ({ method: "resources/read", params: { uri }, item: { kind: "resource", name: uri } })),
  fc
    .tuple(fc.constantFrom("resources/subscribe", "resources/unsubscribe"), fc.constantFrom(...URIS))
    .map(([method, uri]): Ask => ({ method, params: { uri }, item: { kind: "resource", name: uri } })),
  fc.constantFrom(...PROMPT_NAMES).map(
    (name): Ask => ({
      method: "completion/complete",
      params: { ref: { type: "ref/prompt", name }, argument: { name: "who", value: "a" } },
      item: { kind: "prompt", name },
    }),
  ),
  fc.constantFrom(...TEMPLATES).map(
    (uri): Ask => ({
      method: "completion/complete",
      params: { ref: { type: "ref/resource", uri }, argument: { name: "id", value: "1" } },
      item: { kind: "template", name: uri },
    }),
  ),
  fc.constant<Ask>({ method: "no/such/method", params: {}, item: { kind: "unknown" } }),
)

/** Whether the access reaches what the request asks for: deny by default. */
export const reaches = (access: ModelAccess, item: Item, operator: boolean): boolean => {
  switch (item.kind) {
    case "server":
      return true
    case "tool":
      return access.tool(item.name)
    case "prompt":
      return access.prompt(item.name)
    case "resource":
    case "template":
      return access.resources
    case "unknown":
      // No grant names a method MCP does not define; the operator's requests pass untouched.
      return operator
  }
}

/** Whether `server` has what `item` names (a server answers success only for what it has). */
export const has = (server: ModelServer, item: Item): boolean => {
  switch (item.kind) {
    case "server":
      return true
    case "tool":
      return server.tools.includes(item.name)
    case "prompt":
      return server.prompts.includes(item.name)
    case "resource":
      return server.resources.includes(item.name) || server.templates.some((t) => item.name.startsWith(t.prefix))
    case "template":
      return server.templates.some((t) => t.uriTemplate === item.name)
    case "unknown":
      return false
  }
}

/** What the audit names for a request: a tool or prompt name, a resource uri, a completion's reference. */
export const auditNameOf = (ask: Ask): string | null => (ask.item.kind === "server" || ask.item.kind === "unknown" ? null : ask.item.name)

/** The list methods, the field holding their items, and what the access shows of each item. */
export const LISTS: ReadonlyMap<string, { readonly field: string; readonly shows: (access: ModelAccess, item: { readonly name?: string }) => boolean }> =
  new Map([
    ["tools/list", { field: "tools", shows: (a: ModelAccess, i: { readonly name?: string }) => a.tool(String(i.name)) }],
    ["prompts/list", { field: "prompts", shows: (a: ModelAccess, i: { readonly name?: string }) => a.prompt(String(i.name)) }],
    ["resources/list", { field: "resources", shows: (a: ModelAccess) => a.resources }],
    ["resources/templates/list", { field: "resourceTemplates", shows: (a: ModelAccess) => a.resources }],
  ])
