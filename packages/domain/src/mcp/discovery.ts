import * as Effect from "effect/Effect"
import type { McpConnectFailed, McpRequestFailed, McpServerBusy } from "./mcpErrors.ts"
import type { UpstreamSession } from "./UpstreamSession.ts"

type Entry = Readonly<Record<string, unknown>>

/** What a server offers, as discovery reports it. */
export interface CapabilitySnapshot {
  readonly protocolVersion: string
  readonly serverInfo: UpstreamSession["hello"]["serverInfo"]
  readonly serverCapabilities: Readonly<Record<string, unknown>>
  readonly tools: ReadonlyArray<Entry>
  readonly resources: ReadonlyArray<Entry>
  readonly resourceTemplates: ReadonlyArray<Entry>
  readonly prompts: ReadonlyArray<Entry>
  /** Content hash of the lists and server info: equal hashes, equal offers. */
  readonly hash: string
  readonly fetchedAt: string
}

export type ListKind = "tools" | "resources" | "resourceTemplates" | "prompts"

const LISTS: ReadonlyArray<{ readonly kind: ListKind; readonly method: string; readonly capability: string }> = [
  { kind: "tools", method: "tools/list", capability: "tools" },
  { kind: "resources", method: "resources/list", capability: "resources" },
  { kind: "resourceTemplates", method: "resources/templates/list", capability: "resources" },
  { kind: "prompts", method: "prompts/list", capability: "prompts" },
]

/** Which list a `notifications/<x>/list_changed` invalidates. */
export const listsChangedBy = (method: string): ReadonlyArray<ListKind> => {
  if (method === "notifications/tools/list_changed") return ["tools"]
  if (method === "notifications/prompts/list_changed") return ["prompts"]
  if (method === "notifications/resources/list_changed") return ["resources", "resourceTemplates"]
  return []
}

/** A bound on pages, so a server that always returns a cursor cannot keep discovery busy forever. */
const MAX_PAGES = 1000

/** Every page of one list. */
export const fetchList = (
  session: UpstreamSession,
  kind: ListKind,
  timeoutMs: number,
): Effect.Effect<ReadonlyArray<Entry>, McpRequestFailed | McpServerBusy | McpConnectFailed> => {
  const list = LISTS.find((l) => l.kind === kind)!
  if (session.hello.capabilities[list.capability] === undefined) return Effect.succeed([])
  return Effect.gen(function* () {
    const items: Array<Entry> = []
    let cursor: string | undefined
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = yield* session.call(list.method, cursor === undefined ? {} : { cursor }, timeoutMs)
      const entries = result[kind]
      if (Array.isArray(entries)) items.push(...(entries as Array<Entry>))
      cursor = typeof result["nextCursor"] === "string" && result["nextCursor"] !== "" ? result["nextCursor"] : undefined
      if (cursor === undefined) break
    }
    return items
  })
}

/** JSON with object keys sorted, so equal content always hashes alike. */
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

/** 64-bit FNV-1a over UTF-8, hex. */
export const contentHash = (value: unknown): string => {
  let hash = 0xcbf29ce484222325n
  for (const byte of new TextEncoder().encode(canonical(value))) {
    hash ^= BigInt(byte)
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn
  }
  return hash.toString(16).padStart(16, "0")
}

export const snapshotOf = (
  hello: UpstreamSession["hello"],
  lists: Readonly<Record<ListKind, ReadonlyArray<Entry>>>,
  fetchedAt: string,
): CapabilitySnapshot => ({
  protocolVersion: hello.protocolVersion,
  serverInfo: hello.serverInfo,
  serverCapabilities: hello.capabilities,
  ...lists,
  hash: contentHash({ serverInfo: hello.serverInfo, capabilities: hello.capabilities, ...lists }),
  fetchedAt,
})

/** A complete snapshot, or the given lists refreshed on top of `previous`. */
export const discover = (
  session: UpstreamSession,
  options: {
    readonly timeoutMs: number
    readonly now: string
    readonly previous?: CapabilitySnapshot | undefined
    readonly only?: ReadonlyArray<ListKind> | undefined
  },
): Effect.Effect<CapabilitySnapshot, McpRequestFailed | McpServerBusy | McpConnectFailed> => {
  const kinds = options.only ?? LISTS.map((l) => l.kind)
  return Effect.forEach(kinds, (kind) => fetchList(session, kind, options.timeoutMs).pipe(Effect.map((items) => [kind, items] as const))).pipe(
    Effect.map((fetched) => {
      const base = { tools: [], resources: [], resourceTemplates: [], prompts: [], ...(options.previous === undefined ? {} : pickLists(options.previous)) }
      return snapshotOf(session.hello, { ...base, ...Object.fromEntries(fetched) }, options.now)
    }),
  )
}

const pickLists = (s: CapabilitySnapshot) => ({ tools: s.tools, resources: s.resources, resourceTemplates: s.resourceTemplates, prompts: s.prompts })
