/**
 * A stdio MCP server that speaks only 2026-07-28, as plain Node with no package (run with
 * `node -e` in `dtma/node-base:24`): it refuses `initialize` with `-32022`, answers
 * `server/discover`, `tools/list` and `tools/call` (`echo`) when the request carries the envelope,
 * and `-32601` to anything else (`ping` included). It writes each method it gets to stderr.
 */
export const MODERN_STDIO_SERVER = String.raw`
const PV = "io.modelcontextprotocol/protocolVersion";
const meta = { "io.modelcontextprotocol/serverInfo": { name: "docker-modern", version: "1.0.0" } };
const tools = [{ name: "echo", description: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } }];
const answer = (m) => {
  const p = m.params || {};
  if (m.method === "initialize") {
    return { error: { code: -32022, message: "Unsupported protocol version", data: { supported: ["2026-07-28"], requested: p.protocolVersion } } };
  }
  if (!p._meta || p._meta[PV] !== "2026-07-28") return { error: { code: -32602, message: "missing " + PV } };
  const cached = { resultType: "complete", ttlMs: 0, cacheScope: "public", _meta: meta };
  if (m.method === "server/discover") return { result: { supportedVersions: ["2026-07-28"], capabilities: { tools: {} }, ...cached } };
  if (m.method === "tools/list") return { result: { tools, ...cached } };
  if (m.method === "tools/call" && p.name === "echo") {
    return { result: { content: [{ type: "text", text: "modern: " + (p.arguments || {}).text }], resultType: "complete", _meta: meta } };
  }
  return { error: { code: -32601, message: "Method not found: " + m.method } };
};
let buffer = "";
process.stdin.on("data", (chunk) => {
  buffer += chunk;
  let i;
  while ((i = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, i).trim();
    buffer = buffer.slice(i + 1);
    if (line === "") continue;
    const m = JSON.parse(line);
    process.stderr.write("got " + m.method + "\n");
    if (m.id === undefined || m.method === undefined) continue;
    process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: m.id, ...answer(m) }) + "\n");
  }
});
`
