import { gzipSync } from "node:zlib"
import fc from "fast-check"
import { arbUserSpelling } from "@dtma/testing"
import { MCP_PROXY_PATH } from "../../src/mcpProxy/mountMcpProxy.ts"
import { ROUTES } from "../../src/routes/routeTable.ts"
import { deployBody, IMAGE, MCP_IMAGE, mcpBody, TOKEN } from "./support.ts"

/** The instances every fuzz case can find: deployed before the run and again whenever a case removed them. */
export const STANDING_TOOL = "tool-a"
export const STANDING_MCP = "mcp-a"

/** One raw HTTP request, sent as is (no URL normalisation, unlike fetch). */
export interface RawRequest {
  readonly method: string
  /** The request target: path and query, bytes 0x21-0xff only. */
  readonly path: string
  /** The route template the path was built from, or null for a free path. */
  readonly template: string | null
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer | null
}

/** Every template the app serves: the route table plus the proxied MCP endpoint. */
export const TEMPLATES: ReadonlyArray<string> = [...new Set([...ROUTES.map((r) => r.path), MCP_PROXY_PATH])]

const METHODS_OF = new Map<string, ReadonlyArray<string>>(
  TEMPLATES.map((t) => [t, t === MCP_PROXY_PATH ? ["GET", "POST", "DELETE"] : ROUTES.filter((r) => r.path === t).map((r) => r.method)]),
)

// llhttp rejects methods it does not know before Koa sees them; CONNECT is a tunnel, not a request.
const METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "TRACE",
  "PROPFIND",
  "MKCOL",
  "COPY",
  "MOVE",
  "LOCK",
  "SEARCH",
  "PURGE",
  "REPORT",
  "QUERY",
]

const ONE_MB = 1024 * 1024

/** Characters Node's client sends raw in a request target (it refuses the rest). */
const rawChar = fc.integer({ min: 0x21, max: 0xff }).map((c) => String.fromCharCode(c))

const nasty = fc.constantFrom(
  "..",
  "%2e%2e",
  "%2E%2E",
  "../..",
  "..%2f..%2fetc%2fpasswd",
  "%00",
  "a%00b",
  "%",
  "%zz",
  "%E0%A4%A",
  "%C0%AE",
  "%2F",
  "%ff%fe",
  ".",
  "",
  "%20",
  "constructor",
  "__proto__",
  "toString",
  "discovery",
)

/** A value for a path parameter: standing names often, hostile text otherwise. */
export const paramArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(STANDING_TOOL, STANDING_MCP, "nope", "fuzz-tool", "fuzz-mcp"), weight: 5 },
  { arbitrary: nasty, weight: 4 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }).map(encodeURIComponent), weight: 3 },
  { arbitrary: fc.string({ unit: rawChar, maxLength: 30 }), weight: 3 },
  { arbitrary: fc.integer({ min: 300, max: 6000 }).map((n) => "a".repeat(n)), weight: 1 },
  { arbitrary: fc.integer({ min: 100, max: 1500 }).map((n) => "%C3%A9".repeat(n)), weight: 1 },
)

const fill = (template: string, value: string): string => template.replace(/:[a-zA-Z]+/g, value)

const suffixArb = fc.oneof(
  { arbitrary: fc.constant(""), weight: 8 },
  { arbitrary: fc.constantFrom("/", "//", "?", "?tail=5", "?tail=abc", "?tail=-1", "?tail=99999999999999999999", "?tail=1&tail=2", "?%", "#x"), weight: 2 },
  { arbitrary: fc.string({ unit: rawChar, maxLength: 20 }).map((s) => `?${s}`), weight: 1 },
)

const templatedPath = fc
  .tuple(fc.constantFrom(...TEMPLATES), paramArb, suffixArb)
  .map(([template, value, suffix]) => ({ template, path: `${fill(template, value)}${suffix}` }))

const freePath = fc
  .oneof(
    fc.array(fc.oneof(nasty, fc.string({ unit: rawChar, maxLength: 12 })), { maxLength: 6 }).map((segments) => `/${segments.join("/")}`),
    fc.constantFrom("/", "//health", "/health/..", "/tools/%2e%2e/status", "/./status", "/TOOLS", "/mcp-servers/", "/mcp/groups", "*"),
  )
  .map((path) => ({ template: null, path: path.startsWith("/") || path === "*" ? path : `/${path}` }))

const authArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant(`Bearer ${TOKEN}`), weight: 6 },
  { arbitrary: fc.constant(undefined), weight: 1 },
  { arbitrary: fc.constantFrom("Basic x", "Bearer", "Bearer ", `Token ${TOKEN}`, `Bearer ${TOKEN} extra`, `bearer  ${TOKEN}`), weight: 1 },
  {
    arbitrary: fc
      .string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 40 })
      .map((t) => `Bearer ${t}`),
    weight: 1,
  },
)

const contentTypeArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant("application/json"), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      undefined,
      "text/plain",
      "application/json; charset=utf-8",
      "application/vnd.api+json",
      "application/json; charset=latin1",
      "multipart/form-data",
    ),
    weight: 2,
  },
  { arbitrary: fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 }), weight: 1 },
)

const acceptArb: fc.Arbitrary<string | undefined> = fc.constantFrom(undefined, "application/json, text/event-stream", "application/json", "*/*")

const wrongValue = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  fc.string({ maxLength: 40 }),
)

/** A deploy body with some fields of the wrong type or missing, or some key no schema knows. */
const mangledDeploy = fc
  .tuple(
    fc.constantFrom(deployBody(), mcpBody(), mcpBody({ mcpTransportType: "streamable_http" })),
    fc.dictionary(
      fc.constantFrom(
        "dockerImageUrl",
        "instanceNameOnToolbox",
        "accountToolInstanceId",
        "mcpTransportType",
        "environmentVariables",
        "portBindings",
        "mcpEndpointPath",
        "Env",
        "Cmd",
        "HostConfig",
        "Labels",
        "User",
        "oauthConnectionIds",
        "__proto__",
        "constructor",
        "servers",
        "groupId",
      ),
      wrongValue,
      { maxKeys: 3 },
    ),
  )
  .map(([base, overrides]) => ({ ...base, ...overrides }))

const validDeploy = fc.oneof(
  fc.constantFrom("fuzz-tool", STANDING_TOOL).map((name) => deployBody({ instanceNameOnToolbox: name, dockerImageUrl: IMAGE })),
  fc.constantFrom("fuzz-mcp", STANDING_MCP).map((name) => mcpBody({ instanceNameOnToolbox: name, dockerImageUrl: MCP_IMAGE })),
  fc.constant({ groupId: "fuzz-group", servers: [mcpBody({ instanceNameOnToolbox: "fuzz-group-a" })] }),
)

/** An MCP deploy whose User is some spelling of a user: of uid 0 or gid 0, malformed, or fine. */
const userDeploy = arbUserSpelling.map((User) => mcpBody({ instanceNameOnToolbox: "fuzz-mcp", dockerImageUrl: MCP_IMAGE, baseConfigOverrideJson: { User } }))

const jsonRpc = fc.oneof(
  fc.constant({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "fuzz", version: "1" } },
  }),
  fc.constant({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
  fc.record(
    {
      jsonrpc: fc.oneof(fc.constant("2.0"), wrongValue),
      id: wrongValue,
      method: fc.oneof(fc.string({ maxLength: 20 }), wrongValue),
      params: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  ),
)

type BodySource = { readonly kind: "json"; readonly value: unknown } | { readonly kind: "bytes"; readonly bytes: Uint8Array }

const bodySourceArb: fc.Arbitrary<BodySource | null> = fc.oneof(
  { arbitrary: fc.constant(null), weight: 3 },
  { arbitrary: fc.oneof(validDeploy, mangledDeploy, userDeploy, jsonRpc).map((value) => ({ kind: "json" as const, value })), weight: 6 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => ({ kind: "json" as const, value })), weight: 3 },
  { arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ kind: "bytes" as const, bytes })), weight: 2 },
  {
    arbitrary: fc
      .constantFrom("", "{", "[1,", '{"a":}', "nul", '"text"', "1e999999", '{"a":1}garbage')
      .map((s) => ({ kind: "bytes" as const, bytes: Buffer.from(s) })),
    weight: 2,
  },
  // Just over the 1 MB limit: a JSON object padded with one long string.
  { arbitrary: fc.constant({ kind: "json" as const, value: { ...deployBody(), pad: "x".repeat(ONE_MB) } }), weight: 1 },
)

const encodingArb = fc.oneof(
  { arbitrary: fc.constant("none" as const), weight: 12 },
  { arbitrary: fc.constantFrom("gzip" as const, "corrupt-gzip" as const, "truncated-gzip" as const, "unknown" as const), weight: 1 },
)

const bytesOf = (source: BodySource): Buffer => (source.kind === "json" ? Buffer.from(JSON.stringify(source.value) ?? "") : Buffer.from(source.bytes))

/** An arbitrary request to the app: any method, a route (or no route), hostile params, any headers and body. */
export const requestArb: fc.Arbitrary<RawRequest> = fc
  .record({
    // Mostly a method the template serves, so that requests get past the router to the handlers.
    method: fc.oneof({ arbitrary: fc.nat(), weight: 6 }, { arbitrary: fc.constantFrom(...METHODS), weight: 1 }),
    target: fc.oneof({ arbitrary: templatedPath, weight: 5 }, { arbitrary: freePath, weight: 1 }),
    authorization: authArb,
    contentType: contentTypeArb,
    accept: acceptArb,
    session: fc.option(fc.oneof(fc.uuid(), fc.constantFrom("", "x", "../..")), { freq: 8 }),
    body: bodySourceArb,
    encoding: encodingArb,
  })
  .map(({ method, target, authorization, contentType, accept, session, body, encoding }) => {
    const headers: Record<string, string> = {}
    if (authorization !== undefined) headers["authorization"] = authorization
    if (accept !== undefined) headers["accept"] = accept
    if (session !== null) headers["mcp-session-id"] = session
    let bytes = body === null ? null : bytesOf(body)
    if (bytes !== null) {
      if (contentType !== undefined) headers["content-type"] = contentType
      if (encoding === "gzip") bytes = gzipSync(bytes)
      else if (encoding === "truncated-gzip") bytes = gzipSync(bytes).subarray(0, 12)
      else if (encoding === "corrupt-gzip") bytes = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), bytes, Buffer.from("not deflate")])
      if (encoding === "unknown") headers["content-encoding"] = "x-fuzz"
      else if (encoding !== "none") headers["content-encoding"] = "gzip"
    }
    const served = target.template === null ? [] : (METHODS_OF.get(target.template) ?? [])
    const chosen = typeof method === "string" ? method : (served[method % Math.max(served.length, 1)] ?? "GET")
    return { method: chosen, path: target.path, template: target.template, headers, body: bytes }
  })
