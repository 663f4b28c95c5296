/** A frame as the classifier reads it: V8's function name and script URL. */
export interface Frame {
  readonly functionName: string
  readonly url: string
}

/**
 * The script a URL names, the built DTMA's (`packages/<name>/dist/….js`) by its source
 * (`packages/<name>/src/….ts`), as the rules below and the reports name them.
 */
export const sourceUrlOf = (url: string): string => url.replace(/(\/packages\/[^/]+\/)dist\/(.*)\.js$/, "$1src/$2.ts")

/** Where a proxied call's CPU goes, in the words of issue 16. */
export type CostGroup =
  | "Koa middleware chain"
  | "OTel"
  | "auth (origin, token, rate limit)"
  | "audit"
  | "logging and metrics"
  | "body parsing"
  | "zod"
  | "JSON parse/stringify"
  | "writes: the answer"
  | "writes: upstream"
  | "upstream side"
  | "proxy (MCP handling)"
  | "effect runtime"
  | "node HTTP and streams"
  | "garbage collector"
  | "other"

const WRITES = new Set(["writev", "writeUtf8String", "writeBuffer", "writeLatin1String", "writeAsciiString", "writeUcs2String"])
const WRITERS = /\/adapters\/src\/mcp\/|\/http\/src\/mcpProxy\/|node_modules\/(koa|pino|sonic-boom)\//
const JSON_NATIVES = new Set(["parse", "stringify"])

/** A script of any of `names` (space-separated packages). */
const packages = (names: string): RegExp => new RegExp(`node_modules/(${names.split(" ").join("|")})/`)

// Script rules, first match wins: a dependency by its package, our code by its file.
const RULES: ReadonlyArray<readonly [RegExp, CostGroup]> = [
  [packages("koa koa-compose @koa/router delegates on-finished statuses parseurl accepts type-is content-type mime-types vary"), "Koa middleware chain"],
  [packages("http-errors encodeurl escape-html fresh cookies content-disposition destroy only negotiator path-to-regexp"), "Koa middleware chain"],
  [/node_modules\/@opentelemetry\/|\/server\/trace(Requests|Context)\.ts|\/mcpProxy\/traceMcpRequest\.ts/, "OTel"],
  [
    /\/server\/(auth|caller|originGuard|rateLimitAgents)\.ts|\/domain\/src\/access\/|\/adapters\/src\/access\/|node_modules\/jose\//,
    "auth (origin, token, rate limit)",
  ],
  [/\/server\/audit\w*\.ts|\/mcpProxy\/callTally\.ts|\/domain\/src\/audit\/|\/adapters\/src\/audit\/|\/composition\/auditTrail\.ts/, "audit"],
  [packages("pino pino-std-serializers sonic-boom thread-stream prom-client tdigest bintrees"), "logging and metrics"],
  [/\/server\/(observeRequests|metrics)\.ts|\/composition\/logger\.ts/, "logging and metrics"],
  [
    /node_modules\/(@koa\/bodyparser|co-body|raw-body|inflation|@hapi\/bourne|iconv-lite|bytes|unpipe)\/|\/server\/(jsonBody|forbiddenBodyKey)\.ts/,
    "body parsing",
  ],
  [/node_modules\/zod\//, "zod"],
  [/node_modules\/@modelcontextprotocol\/sdk\/|\/adapters\/src\/mcp\/|\/domain\/src\/mcp\//, "upstream side"],
  [
    /\/http\/src\/mcpProxy\/|\/server\/drainGate\.ts|\/server\/errorBoundary\.ts|\/server\/mcpEndpoint\w*\.ts|\/server\/McpEndpointsFirst\.ts/,
    "proxy (MCP handling)",
  ],
]

const groupOfScript = (url: string): CostGroup | null => {
  for (const [pattern, group] of RULES) if (pattern.test(url)) return group
  return null
}

/**
 * The group a sample's time goes to, from its stack (leaf first). A write is the answer's or the
 * upstream's by who called it; a JSON native is JSON's; any other time goes to the nearest frame
 * of ours or of a dependency that a rule names (so node's and effect's internals count for whoever
 * called them), else to effect, node or "other".
 */
export const costGroupOf = (stack: ReadonlyArray<Frame>): CostGroup => {
  const leaf = stack[0]
  if (leaf === undefined) return "other"
  if (leaf.functionName === "(garbage collector)") return "garbage collector"
  if (leaf.url === "" && WRITES.has(leaf.functionName)) {
    // The nearest writer decides: an answer is often written inside the upstream's read callback.
    const writer = stack.find((f) => WRITERS.test(f.url))
    return writer !== undefined && /\/adapters\/src\/mcp\//.test(writer.url) ? "writes: upstream" : "writes: the answer"
  }
  if (leaf.url === "" && JSON_NATIVES.has(leaf.functionName)) return "JSON parse/stringify"
  for (const frame of stack) {
    const group = groupOfScript(frame.url)
    if (group !== null) return group
  }
  if (stack.some((f) => f.url.includes("node_modules/effect/"))) return "effect runtime"
  if (stack.some((f) => f.url.startsWith("node:"))) return "node HTTP and streams"
  return "other"
}
