import * as Result from "effect/Result"
import { fullGrant, WILDCARD, type Grant, type Grants } from "./grants.ts"
import { InvalidGrants, MAX_GRANTS, MAX_PATTERNS, patternProblem, serverNameProblem } from "./grantsClaim.ts"

export const SERVER_SCOPE = "dtma:server:"
export const TOOL_SCOPE = "dtma:tool:"
const DTMA_SCOPE = "dtma:"

type Parse<A> = Result.Result<A, InvalidGrants>
const refuse = (where: string, problem: string): Parse<never> => Result.fail(new InvalidGrants({ where, problem }))

const decoded = (text: string): string | null => {
  try {
    return decodeURIComponent(text)
  } catch {
    return null
  }
}

/**
 * Reads the OAuth `scope` claim (space-separated) into grants, for issuers that can only set scopes.
 *
 * - `dtma:server:<name>` grants everything on the server, as `{ "server": name }` does.
 * - `dtma:tool:<name>/<tool>` grants that tool (a trailing `*` is a prefix, as in the claim form).
 *   A server named only by tool items gets exactly those tools: no prompts, no resources
 *   (`{ server, tools, prompts: [], resources: false }`).
 * - Both for one server: the server item already grants every tool, so the tool items add nothing.
 *   Scopes only ever add access, as OAuth expects: an authorization server that grants fewer of
 *   the scopes asked for, or a client that asks for fewer, never ends up with more. (Reading a tool
 *   item as a restriction of a server item would break that: dropping the tool item would widen
 *   the token.) The claim form's `{ server, tools }` with prompts and resources open therefore has
 *   no scope spelling; issuers that need it use the claim.
 * - Names are percent-encoded (`encodeURIComponent`); the first raw `/` after `dtma:tool:` ends the
 *   server name. Scope values outside `dtma:` (`openid`, `profile`, …) are left to whoever they
 *   belong to; an unknown `dtma:` value, an empty or undecodable name, or a bad pattern is refused.
 *   Repeated values are one value (a scope is a set). Bounds as for the claim.
 */
export const parseGrantsScope = (scope: string): Parse<Grants> => {
  const whole = new Set<string>()
  const tools = new Map<string, Array<string>>()
  const servers: Array<string> = []
  const note = (server: string) => {
    if (!whole.has(server) && !tools.has(server)) servers.push(server)
  }
  for (const [i, item] of scope
    .split(/\s+/)
    .filter((s) => s !== "")
    .entries()) {
    const where = `scope item ${i + 1}`
    if (!item.startsWith(DTMA_SCOPE)) continue
    if (item.startsWith(SERVER_SCOPE)) {
      const server = decoded(item.slice(SERVER_SCOPE.length))
      if (server === null) return refuse(where, "holds a server name that is not valid percent-encoding")
      const problem = serverNameProblem(server)
      if (problem !== null) return refuse(where, `names a server that ${problem}`)
      note(server)
      whole.add(server)
    } else if (item.startsWith(TOOL_SCOPE)) {
      const rest = item.slice(TOOL_SCOPE.length)
      const slash = rest.indexOf("/")
      if (slash < 0) return refuse(where, "must be dtma:tool:<server>/<tool>")
      const server = decoded(rest.slice(0, slash))
      const tool = decoded(rest.slice(slash + 1))
      if (server === null || tool === null) return refuse(where, "holds a name that is not valid percent-encoding")
      const serverProblem = serverNameProblem(server)
      if (serverProblem !== null) return refuse(where, `names a server that ${serverProblem}`)
      const toolProblem = patternProblem(tool)
      if (toolProblem !== null) return refuse(where, `names a tool that ${toolProblem}`)
      note(server)
      const list = tools.get(server) ?? []
      if (!list.includes(tool)) list.push(tool)
      if (list.length > MAX_PATTERNS) return refuse(where, `grants more than ${MAX_PATTERNS} tools on one server`)
      tools.set(server, list)
    } else {
      return refuse(where, `is not a DTMA scope (known: ${SERVER_SCOPE}<server>, ${TOOL_SCOPE}<server>/<tool>)`)
    }
    if (servers.length > MAX_GRANTS) return refuse(where, `names more than ${MAX_GRANTS} servers`)
  }
  return Result.succeed(
    servers.map(
      (server): Grant => (whole.has(server) ? fullGrant({ server }) : { target: { server }, tools: tools.get(server) ?? [], prompts: [], resources: false }),
    ),
  )
}

const isFull = (g: Grant): boolean => g.tools.includes(WILDCARD) && g.prompts.includes(WILDCARD) && g.resources

/**
 * The scope spelling of grants, or null when they have none: every grant must name its server by
 * name and be either a full grant or tools only (at least one, no prompts, no resources).
 */
export const scopeOfGrants = (grants: Grants): string | null => {
  const items: Array<string> = []
  for (const g of grants) {
    if (!("server" in g.target)) return null
    const server = encodeURIComponent(g.target.server)
    if (isFull(g)) items.push(`${SERVER_SCOPE}${server}`)
    else if (g.tools.length > 0 && g.prompts.length === 0 && !g.resources) items.push(...g.tools.map((t) => `${TOOL_SCOPE}${server}/${encodeURIComponent(t)}`))
    else return null
  }
  return items.join(" ")
}
