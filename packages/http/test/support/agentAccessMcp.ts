import type { GrantsApp, GrantsProbe } from "./grantsSupport.ts"
import { has, LISTS, reaches, accessOf, TWIN, FIXTURE, type Ask, type Caller, type ModelServer } from "./agentAccessModel.ts"
import { send } from "./agentAccessDriver.ts"
import { TEST_ACCESS, TOKEN } from "./support.ts"

// The MCP side of the agent-access property test: the requests it sends on a server's endpoint, what
// it reads back, and the answers the servers themselves give, to compare with.

export const request = (id: number, ask: Ask) => ({ jsonrpc: "2.0", id, method: ask.method, params: ask.params })
export const OPENING: Ask = {
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "prop", version: "1" } },
  item: { kind: "server" },
}
export const OPENING_BODY = request(1, OPENING)
export const PING: Ask = { method: "ping", params: {}, item: { kind: "server" } }

export const pathOf = (server: ModelServer) => `/mcp-servers/${server.name}/mcp`
/** The spellings of a server's endpoint a client may use: the router takes each to that server's endpoint. */
export const SPELLINGS: ReadonlyArray<(name: string) => string> = [
  (name) => `/mcp-servers/${name}/mcp`,
  (name) => `/mcp-servers/${name}/mcp/`,
  (name) => `/MCP-Servers/${name}/Mcp`,
  (name) => `/mcp-servers/${[...name].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join("")}/mcp`,
]
/** Where the protected-resource metadata of the endpoint at `path` is (RFC 9728: the well-known prefix before the resource's path). */
export const metadataOf = (path: string) => `${TEST_ACCESS.resourceUrl}/.well-known/oauth-protected-resource${path.replace(/\/+$/, "")}`

export const withoutId = (message: Record<string, unknown> | undefined) => {
  const { id: _, ...rest } = message ?? {}
  return rest
}
/** Records (or what they must say) in one order: by method and name. */
export const byName = <T extends { readonly method: string | null; readonly name: string | null }>(list: ReadonlyArray<T>): Array<T> =>
  [...list].sort((a, b) => `${a.method} ${a.name}`.localeCompare(`${b.method} ${b.name}`))
/** A result that is no tool error. */
export const succeeded = (answer: Record<string, unknown>): boolean => "result" in answer && (answer["result"] as { isError?: unknown }).isError !== true

/** Requests a session passes on to its server (`ping` is answered by the DTMA; a subscription is shared). */
export const FORWARDED: ReadonlySet<string> = new Set([
  "tools/call",
  "prompts/get",
  "resources/read",
  "completion/complete",
  "logging/setLevel",
  "no/such/method",
  ...LISTS.keys(),
])
/** Whether a caller's request of `method` reaches the server: an agent's `logging/setLevel` is the DTMA's to answer (the level is the shared connection's). */
export const reachesServer = (caller: { readonly kind: string }, method: string): boolean =>
  FORWARDED.has(method) && !(caller.kind === "agent" && method === "logging/setLevel")

/** Subscriptions are shared per uri among a server's sessions: whether one reaches the server depends on the others. */
export const SHARED: ReadonlySet<string> = new Set(["resources/subscribe", "resources/unsubscribe"])

/** A request as a server's probe tells it: its method and what it names. */
export const keyOf = (method: string, params?: Readonly<Record<string, unknown>>): string => {
  const ref = params?.["ref"] as { name?: unknown; uri?: unknown } | undefined
  return `${method} ${String(params?.["name"] ?? params?.["uri"] ?? ref?.name ?? ref?.uri ?? "")}`
}
/** What a server saw since `from`, of these methods. */
export const seenSince = (probe: GrantsProbe | null, from: number, methods: ReadonlySet<string>) =>
  (probe?.seen.slice(from) ?? []).filter((m) => methods.has(m.method)).map((m) => keyOf(m.method, m.params))

/** What a caller must get for one request once its session takes it. */
export interface Expected {
  /** Whether the grants reach what it asks for. */
  readonly allowed: boolean
  readonly answer: Record<string, unknown>
  /** A list's items as the grants show them, when that is all that differs from the server's answer. */
  readonly items?: ReadonlyArray<unknown>
}

/**
 * The servers' own answers, as the operator gets them (untouched) from a DTMA of its own with the
 * same servers, each request asked once.
 */
export class ServerAnswers {
  readonly #reference: GrantsApp
  readonly #sessions: ReadonlyMap<string, string>
  readonly #known = new Map<string, Record<string, unknown>>()

  private constructor(reference: GrantsApp, sessions: ReadonlyMap<string, string>) {
    this.#reference = reference
    this.#sessions = sessions
  }

  static async of(reference: GrantsApp): Promise<ServerAnswers> {
    const sessions = new Map<string, string>()
    for (const server of [FIXTURE, TWIN]) {
      const opened = await send(reference.base, pathOf(server), { method: "POST", authorization: `Bearer ${TOKEN}`, body: request(0, OPENING) })
      if (opened.sessionId === null) throw new Error(`no session on the reference ${server.name}: ${opened.status} ${opened.text}`)
      sessions.set(server.name, opened.sessionId)
    }
    return new ServerAnswers(reference, sessions)
  }

  /** The answer (without its id) `server` gives. */
  async of(server: ModelServer, method: string, params: Readonly<Record<string, unknown>>): Promise<Record<string, unknown>> {
    const key = `${server.name} ${method} ${JSON.stringify(params)}`
    const known = this.#known.get(key)
    if (known !== undefined) return known
    const res = await send(this.#reference.base, pathOf(server), {
      method: "POST",
      authorization: `Bearer ${TOKEN}`,
      sessionId: this.#sessions.get(server.name)!,
      body: { jsonrpc: "2.0", id: 0, method, params },
    })
    if (res.status !== 200) throw new Error(`the reference ${server.name} answered ${method} with ${res.status} ${res.text}`)
    const answer = withoutId(res.messages[0])
    this.#known.set(key, answer)
    return answer
  }

  /**
   * What a server answers for what it does not have: the twin's answer for the name itself when the
   * twin lacks it, else its answer for a name it lacks, renamed.
   */
  async absent(ask: Ask): Promise<Record<string, unknown>> {
    const item = ask.item
    if (item.kind === "server" || item.kind === "unknown" || !has(TWIN, item) || SHARED.has(ask.method)) return this.of(TWIN, ask.method, ask.params)
    const stand = item.kind === "tool" ? "absent_tool" : item.kind === "prompt" ? "absent_prompt" : "test://absent"
    const params = JSON.parse(JSON.stringify(ask.params).replaceAll(JSON.stringify(item.name), JSON.stringify(stand)))
    const answer = await this.of(TWIN, ask.method, params)
    return JSON.parse(JSON.stringify(answer).replaceAll(stand, item.name))
  }

  /**
   * What `caller` must get for `ask` on `server` once its session takes it: the server's answer if
   * granted (a list filtered), else the answer for what is absent.
   */
  async expected(caller: Caller, server: ModelServer, ask: Ask): Promise<Expected> {
    const access = accessOf(caller, server)
    if (access === null) throw new Error(`${caller.kind} has no access to ${server.name}: the session cannot take its request`)
    const allowed = reaches(access, ask.item, caller.kind === "operator")
    if (!allowed) return { allowed, answer: await this.absent(ask) }
    const answer = await this.of(server, ask.method, ask.params)
    const list = LISTS.get(ask.method)
    if (list === undefined || caller.kind === "operator") return { allowed, answer }
    const result = answer["result"] as Record<string, ReadonlyArray<{ name?: string }>>
    return { allowed, answer, items: result[list.field]!.filter((i) => list.shows(access, i)) }
  }
}
