import * as Data from "effect/Data"
import * as Result from "effect/Result"
import { fullGrant, WILDCARD, type Grant, type Grants, type GrantTarget } from "./grants.ts"

/** At most this many grants in one token: a token is not a policy database. */
export const MAX_GRANTS = 64
/** At most this many patterns in one `tools` or `prompts` list. */
export const MAX_PATTERNS = 128
/** Longest server name or `accountToolInstanceId` (the instance name rule's bound). */
export const MAX_SERVER_NAME_LENGTH = 200
/** Longest name pattern; MCP tool names are at most 128 characters. */
export const MAX_PATTERN_LENGTH = 256

/**
 * A `grants` claim or `scope` the DTMA cannot read. `where` names the part (`grants[1].tools[0]`,
 * `scope item 3`), `problem` what is wrong with it; neither quotes anything but the names at fault.
 * The token carrying it is refused (`invalid_token`).
 */
export class InvalidGrants extends Data.TaggedError("InvalidGrants")<{
  readonly where: string
  readonly problem: string
}> {
  override get message(): string {
    return `Invalid grants: ${this.where} ${this.problem}`
  }
}

/** The JSON form of one grant, as the `grants` claim carries it. */
export interface GrantClaim {
  readonly server?: string
  readonly accountToolInstanceId?: string
  readonly tools?: ReadonlyArray<string>
  readonly prompts?: ReadonlyArray<string>
  readonly resources?: boolean
}

const ITEM_KEYS = new Set(["server", "accountToolInstanceId", "tools", "prompts", "resources"])

type Parse<A> = Result.Result<A, InvalidGrants>
const refuse = (where: string, problem: string): Parse<never> => Result.fail(new InvalidGrants({ where, problem }))

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> => typeof value === "object" && value !== null && !Array.isArray(value)

/** What is wrong with a name pattern, or null: non-empty, bounded, `*` only as its last character. */
export const patternProblem = (pattern: string): string | null => {
  if (pattern.length === 0) return "must not be empty"
  if (pattern.length > MAX_PATTERN_LENGTH) return `must be at most ${MAX_PATTERN_LENGTH} characters`
  if (pattern.slice(0, -1).includes(WILDCARD)) return "may hold '*' only as its last character (a prefix)"
  return null
}

/** What is wrong with a server name or account tool instance id, or null. */
export const serverNameProblem = (name: string): string | null => {
  if (name.length === 0) return "must not be empty"
  if (name.length > MAX_SERVER_NAME_LENGTH) return `must be at most ${MAX_SERVER_NAME_LENGTH} characters`
  return null
}

const patternsOf = (value: unknown, where: string): Parse<ReadonlyArray<string>> => {
  if (value === undefined) return Result.succeed([WILDCARD])
  if (!Array.isArray(value)) return refuse(where, "must be a list of names")
  if (value.length > MAX_PATTERNS) return refuse(where, `must hold at most ${MAX_PATTERNS} names`)
  const seen = new Set<string>()
  for (const [i, p] of value.entries()) {
    if (typeof p !== "string") return refuse(`${where}[${i}]`, "must be a string")
    const problem = patternProblem(p)
    if (problem !== null) return refuse(`${where}[${i}]`, problem)
    if (seen.has(p)) return refuse(`${where}[${i}]`, `repeats '${p}'`)
    seen.add(p)
  }
  return Result.succeed(value as ReadonlyArray<string>)
}

const targetOf = (item: Readonly<Record<string, unknown>>, where: string): Parse<GrantTarget> => {
  const { server, accountToolInstanceId: ati } = item
  if (server !== undefined && ati !== undefined) return refuse(where, "must name its server by 'server' or by 'accountToolInstanceId', not both")
  const [key, value] = server !== undefined ? ["server", server] : ["accountToolInstanceId", ati]
  if (value === undefined) return refuse(where, "must name a server ('server' or 'accountToolInstanceId')")
  if (typeof value !== "string") return refuse(`${where}.${key}`, "must be a string")
  const problem = serverNameProblem(value)
  if (problem !== null) return refuse(`${where}.${key}`, problem)
  return Result.succeed(key === "server" ? { server: value } : { accountToolInstanceId: value })
}

const grantOf = (item: unknown, where: string): Parse<Grant> => {
  if (!isRecord(item)) return refuse(where, "must be an object")
  const unknown = Object.keys(item).find((k) => !ITEM_KEYS.has(k))
  // A misspelt restriction ('tool' for 'tools') would otherwise open the whole server.
  if (unknown !== undefined) return refuse(where, `has an unknown field '${unknown}' (known: ${[...ITEM_KEYS].join(", ")})`)
  const target = targetOf(item, where)
  if (Result.isFailure(target)) return Result.fail(target.failure)
  const tools = patternsOf(item.tools, `${where}.tools`)
  if (Result.isFailure(tools)) return Result.fail(tools.failure)
  const prompts = patternsOf(item.prompts, `${where}.prompts`)
  if (Result.isFailure(prompts)) return Result.fail(prompts.failure)
  if (item.resources !== undefined && typeof item.resources !== "boolean") return refuse(`${where}.resources`, "must be true or false")
  return Result.succeed({ target: target.success, tools: tools.success, prompts: prompts.success, resources: item.resources ?? true })
}

const keyOf = (target: GrantTarget): string => ("server" in target ? `server '${target.server}'` : `accountToolInstanceId '${target.accountToolInstanceId}'`)

/**
 * Reads the `grants` claim. Refused: anything but a list of objects; an item naming no server, or
 * naming it both ways (ambiguous: must both match, or either?); an unknown field; two items naming
 * the same server the same way, and a pattern repeated in one list (the issuer meant something
 * else; say so rather than guess); lists longer than the bounds above. `[]` is valid and allows nothing.
 */
export const parseGrantsClaim = (value: unknown): Parse<Grants> => {
  if (!Array.isArray(value)) return refuse("grants", "must be a list")
  if (value.length > MAX_GRANTS) return refuse("grants", `must hold at most ${MAX_GRANTS} items`)
  const grants: Array<Grant> = []
  const seen = new Set<string>()
  for (const [i, item] of value.entries()) {
    const grant = grantOf(item, `grants[${i}]`)
    if (Result.isFailure(grant)) return Result.fail(grant.failure)
    const key = keyOf(grant.success.target)
    if (seen.has(key)) return refuse(`grants[${i}]`, `names ${key} again (one item per server)`)
    seen.add(key)
    grants.push(grant.success)
  }
  return Result.succeed(grants)
}

const sameAs = (patterns: ReadonlyArray<string>, expected: ReadonlyArray<string>): boolean =>
  patterns.length === expected.length && patterns.every((p, i) => p === expected[i])

/** The claim form of grants, as the built-in issuer signs it; a full grant is written as the server alone. */
export const claimOfGrants = (grants: Grants): ReadonlyArray<GrantClaim> =>
  grants.map((g) => {
    const full = fullGrant(g.target)
    return {
      ...g.target,
      ...(sameAs(g.tools, full.tools) ? {} : { tools: g.tools }),
      ...(sameAs(g.prompts, full.prompts) ? {} : { prompts: g.prompts }),
      ...(g.resources ? {} : { resources: false }),
    }
  })
