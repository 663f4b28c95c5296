import fc from "fast-check"
import type { JsonRpcMessage } from "@dtma/domain"
import { NAME_SOURCE } from "../../src/mcpProxy/eraOf.ts"

// Random 2026-07-28 requests, each with one choice per header and per envelope field, and the
// oracle: MCP 2026-07-28's "Server Validation" table, in the order the checks run.

export const MODERN = "2026-07-28"
export const METHODS = [
  "tools/call",
  "prompts/get",
  "resources/read",
  "tools/list",
  "resources/list",
  "server/discover",
  "subscriptions/listen",
  "completion/complete",
]

/**
 * How a header value goes on the wire: plain when it is visible ASCII with no edge spaces and no
 * sentinel look, else base64 (streamable-http.mdx, "Value Encoding").
 */
export const encoded = (value: string, force = false): string =>
  !force && /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/.test(value) && !/^=\?base64\?.*\?=$/.test(value)
    ? value
    : `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`

type HeaderChoice = "keep" | "drop" | "wrong"
type NameChoice = "plain" | "base64" | "drop" | "wrong" | "badSentinel"
type EnvelopeChoice = "ok" | "noCapabilities" | "badLevel" | "badClientInfo"

export interface Case {
  readonly method: string
  readonly name: string
  readonly supported: boolean
  readonly envelope: EnvelopeChoice
  readonly version: HeaderChoice
  readonly mcpMethod: HeaderChoice
  readonly mcpName: NameChoice
  readonly logLevel: "info" | null
  readonly extra: Readonly<Record<string, string>>
}

export const arbCaseOf = (methods: ReadonlyArray<string>): fc.Arbitrary<Case> =>
  fc.record({
    method: fc.constantFrom(...methods),
    name: fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }), fc.constant("=?base64?x?=")),
    supported: fc.boolean(),
    envelope: fc.constantFrom<EnvelopeChoice>("ok", "ok", "ok", "noCapabilities", "badLevel", "badClientInfo"),
    version: fc.constantFrom<HeaderChoice>("keep", "keep", "drop", "wrong"),
    mcpMethod: fc.constantFrom<HeaderChoice>("keep", "keep", "drop", "wrong"),
    mcpName: fc.constantFrom<NameChoice>("plain", "plain", "base64", "drop", "wrong", "badSentinel"),
    logLevel: fc.constantFrom("info" as const, null),
    // Headers the check ignores: another era's session id, a parameter header, anything.
    extra: fc.dictionary(fc.constantFrom("mcp-session-id", "mcp-param-region", "x-other", "last-event-id"), fc.stringMatching(/^[a-z0-9-]{1,8}$/), {
      maxKeys: 2,
    }),
  })

export const arbCase: fc.Arbitrary<Case> = arbCaseOf(METHODS)

export const requestOf = (c: Case, claimed: string): JsonRpcMessage => {
  const meta: Record<string, unknown> = { "io.modelcontextprotocol/protocolVersion": claimed, progressToken: 7 }
  if (c.envelope !== "noCapabilities") meta["io.modelcontextprotocol/clientCapabilities"] = {}
  meta["io.modelcontextprotocol/clientInfo"] = c.envelope === "badClientInfo" ? { name: 3 } : { name: "c", version: "1" }
  if (c.envelope === "badLevel") meta["io.modelcontextprotocol/logLevel"] = "loud"
  else if (c.logLevel !== null) meta["io.modelcontextprotocol/logLevel"] = c.logLevel
  const source = NAME_SOURCE[c.method]
  return { jsonrpc: "2.0", id: 1, method: c.method, params: { ...(source === undefined ? {} : { [source]: c.name }), _meta: meta } }
}

export const headersOf = (c: Case, claimed: string): Record<string, string> => {
  const headers: Record<string, string> = { ...c.extra }
  if (c.version !== "drop") headers["mcp-protocol-version"] = c.version === "wrong" ? "2026-01-01" : claimed
  if (c.mcpMethod !== "drop") headers["mcp-method"] = c.mcpMethod === "wrong" ? "tools/list-x" : c.method
  if (c.mcpName === "plain") headers["mcp-name"] = encoded(c.name)
  if (c.mcpName === "base64") headers["mcp-name"] = encoded(c.name, true)
  if (c.mcpName === "wrong") headers["mcp-name"] = encoded(`${c.name}x`)
  if (c.mcpName === "badSentinel") headers["mcp-name"] = "=?base64?not*base64?="
  return headers
}

/** The oracle: the spec's table, in the order the checks run (the envelope, the headers the body contradicts, the version, the headers missing). */
export const expected = (c: Case): { readonly status: number; readonly code: number } | "modern" => {
  if (c.envelope !== "ok") return { status: 400, code: -32602 }
  if (c.version === "wrong") return { status: 400, code: -32020 }
  if (c.mcpMethod === "wrong") return { status: 400, code: -32020 }
  if (!c.supported) return { status: 400, code: -32022 }
  if (c.version === "drop" || c.mcpMethod === "drop") return { status: 400, code: -32020 }
  const named = NAME_SOURCE[c.method] !== undefined
  if (named && (c.mcpName === "drop" || c.mcpName === "wrong" || c.mcpName === "badSentinel")) return { status: 400, code: -32020 }
  return "modern"
}
