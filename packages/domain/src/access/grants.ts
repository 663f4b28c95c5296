/**
 * What an agent may use on the DTMA's MCP servers, whichever form its token carried (the `grants`
 * claim or the OAuth `scope`; see `grantsClaim.ts` and `grantsScope.ts`), and the decisions taken
 * from it. Deny by default: nothing is allowed that no grant names.
 *
 * Decisions:
 * - Grants add up. A server is usable when any grant names it, by instance name or by
 *   `accountToolInstanceId`; when several name it, a tool, prompt or resource allowed by any of
 *   them is allowed (the union). More grants never mean less access.
 * - A name pattern is a name, or a prefix followed by one `*` at its very end (`search_*`); `*`
 *   alone matches every name. There is no other wildcard and no escape: a tool whose own name
 *   contains `*` can only be granted through a prefix or `*`.
 * - Names are compared exactly (case-sensitive, no normalisation), as MCP compares them.
 */

/** The server a grant names: by its instance name, or by the account tool instance it was deployed for. */
export type GrantTarget = { readonly server: string } | { readonly accountToolInstanceId: string }

/** One grant: a server, and what on it. `["*"]` is every name; `[]` none. */
export interface Grant {
  readonly target: GrantTarget
  readonly tools: ReadonlyArray<string>
  readonly prompts: ReadonlyArray<string>
  /** Resources and resource templates: all of them, or none. */
  readonly resources: boolean
}

export type Grants = ReadonlyArray<Grant>

/** A server as a decision needs it. */
export interface ServerRef {
  readonly name: string
  readonly accountToolInstanceId: string | null
}

/** Names a pattern list lets through, prepared for fast checks. */
export interface NameRule {
  readonly exact: ReadonlySet<string>
  /** `""` when every name is allowed. */
  readonly prefixes: ReadonlyArray<string>
}

/** What the grants allow on one server (the union of the grants naming it). */
export interface ServerAccess {
  readonly tools: NameRule
  readonly prompts: NameRule
  readonly resources: boolean
}

export const WILDCARD = "*"

/** A grant opening everything on a server: what a grant naming only the server means. */
export const fullGrant = (target: GrantTarget): Grant => ({ target, tools: [WILDCARD], prompts: [WILDCARD], resources: true })

export const isPrefixPattern = (pattern: string): boolean => pattern.endsWith(WILDCARD)

/** Whether one pattern matches a name: equal, or a prefix pattern whose prefix starts the name. */
export const patternMatches = (pattern: string, name: string): boolean => (isPrefixPattern(pattern) ? name.startsWith(pattern.slice(0, -1)) : pattern === name)

const ruleOf = (patterns: ReadonlyArray<string>): NameRule => {
  const exact = new Set<string>()
  const prefixes: Array<string> = []
  for (const p of patterns) {
    if (isPrefixPattern(p)) prefixes.push(p.slice(0, -1))
    else exact.add(p)
  }
  return { exact, prefixes: prefixes.includes("") ? [""] : prefixes }
}

export const ruleAllows = (rule: NameRule, name: string): boolean => rule.exact.has(name) || rule.prefixes.some((p) => name.startsWith(p))

export const namesServer = (target: GrantTarget, server: ServerRef): boolean =>
  "server" in target ? target.server === server.name : server.accountToolInstanceId !== null && target.accountToolInstanceId === server.accountToolInstanceId

/**
 * What the grants allow on `server`, or null when no grant names it. Compute it once per session
 * (or per request) and ask it many times: `ruleAllows(access.tools, name)`.
 */
export const accessTo = (grants: Grants, server: ServerRef): ServerAccess | null => {
  const naming = grants.filter((g) => namesServer(g.target, server))
  if (naming.length === 0) return null
  return {
    tools: ruleOf(naming.flatMap((g) => g.tools)),
    prompts: ruleOf(naming.flatMap((g) => g.prompts)),
    resources: naming.some((g) => g.resources),
  }
}

/** Whether the agent may talk to the server at all (initialize, ping); a grant naming it is enough. */
export const mayUseServer = (grants: Grants, server: ServerRef): boolean => grants.some((g) => namesServer(g.target, server))

export const mayUseTool = (grants: Grants, server: ServerRef, tool: string): boolean => {
  const access = accessTo(grants, server)
  return access !== null && ruleAllows(access.tools, tool)
}

export const mayUsePrompt = (grants: Grants, server: ServerRef, prompt: string): boolean => {
  const access = accessTo(grants, server)
  return access !== null && ruleAllows(access.prompts, prompt)
}

/** Resources and resource templates go together: reading, subscribing, listing either. */
export const mayUseResource = (grants: Grants, server: ServerRef): boolean => accessTo(grants, server)?.resources ?? false

/** The tools of a list the agent may see, in their order; anything else is as if it did not exist. */
export const visibleTools = <T extends { readonly name: string }>(grants: Grants, server: ServerRef, tools: ReadonlyArray<T>): ReadonlyArray<T> => {
  const access = accessTo(grants, server)
  return access === null ? [] : tools.filter((t) => ruleAllows(access.tools, t.name))
}

export const visiblePrompts = <T extends { readonly name: string }>(grants: Grants, server: ServerRef, prompts: ReadonlyArray<T>): ReadonlyArray<T> => {
  const access = accessTo(grants, server)
  return access === null ? [] : prompts.filter((p) => ruleAllows(access.prompts, p.name))
}

/** Resources or resource templates: the whole list, or nothing. */
export const visibleResources = <T>(grants: Grants, server: ServerRef, resources: ReadonlyArray<T>): ReadonlyArray<T> =>
  mayUseResource(grants, server) ? resources : []
