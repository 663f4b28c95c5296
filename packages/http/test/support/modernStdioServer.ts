/**
 * A stdio MCP server that speaks only 2026-07-28, as plain Node with no package (run with
 * `node -e` in `dtma/node-base:24`): it refuses `initialize` with `-32022`, answers
 * `server/discover`, `tools/list` and `tools/call` when the request carries the envelope, and
 * `-32601` to anything else (`ping` included). Tools: `echo`; `greet` asks the client's name
 * (`input_required`: an elicitation, only of a client whose envelope declares elicitation, and a
 * `requestState`), and greets the name its retry brings; `add_tool` adds a tool `added_<n>` (an
 * echo) and tells each `subscriptions/listen` stream open for tool list changes (acknowledged when
 * opened, each notification under the listen's id, subscriptions.mdx). It writes each method it gets to stderr.
 */
export const MODERN_STDIO_SERVER = String.raw`
const PV = "io.modelcontextprotocol/protocolVersion";
const meta = { "io.modelcontextprotocol/serverInfo": { name: "docker-modern", version: "1.0.0" } };
const tools = [
  { name: "echo", description: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
  { name: "greet", description: "asks a name, then greets it", inputSchema: { type: "object", properties: {} } },
  { name: "add_tool", description: "adds a tool", inputSchema: { type: "object", properties: {} } },
];
const listens = [];
const write = (message) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n");
const onListen = (id, p) => (p.notifications || {}).toolsListChanged === true && listens.push(id);
const changed = () => {
  for (const id of listens) write({ method: "notifications/tools/list_changed", params: { _meta: { "io.modelcontextprotocol/subscriptionId": id } } });
};
const nameSchema = { type: "object", properties: { name: { type: "string" } } };
const ask = { method: "elicitation/create", params: { mode: "form", message: "Your name?", requestedSchema: nameSchema } };
const greet = (p) => {
  const name = ((p.inputResponses || {}).name || {}).content;
  if (p.requestState === "greet-1" && name && typeof name.name === "string") {
    return { result: { content: [{ type: "text", text: "hello " + name.name }], resultType: "complete", _meta: meta } };
  }
  const declared = p._meta["io.modelcontextprotocol/clientCapabilities"] || {};
  if (!declared.elicitation) return { error: { code: -32602, message: "greet needs a client that can elicit" } };
  return { result: { resultType: "input_required", inputRequests: { name: ask }, requestState: "greet-1", _meta: meta } };
};
const answer = (m) => {
  const p = m.params || {};
  if (m.method === "initialize") {
    return { error: { code: -32022, message: "Unsupported protocol version", data: { supported: ["2026-07-28"], requested: p.protocolVersion } } };
  }
  if (!p._meta || p._meta[PV] !== "2026-07-28") return { error: { code: -32602, message: "missing " + PV } };
  const cached = { resultType: "complete", ttlMs: 0, cacheScope: "public", _meta: meta };
  const capabilities = { tools: { listChanged: true } };
  if (m.method === "server/discover") return { result: { supportedVersions: ["2026-07-28"], capabilities, ...cached } };
  if (m.method === "tools/list") return { result: { tools, ...cached } };
  if (m.method === "tools/call" && p.name === "greet") return greet(p);
  if (m.method === "tools/call" && p.name === "add_tool") {
    const name = "added_" + tools.length;
    tools.push({ ...tools[0], name });
    setTimeout(changed, 10);
    return { result: { content: [{ type: "text", text: name }], resultType: "complete", _meta: meta } };
  }
  if (m.method === "tools/call" && tools.some((t) => t.name === p.name)) {
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
    if (m.method === "subscriptions/listen" && m.params && m.params._meta && m.params._meta[PV] === "2026-07-28") {
      onListen(m.id, m.params);
      const ack = { toolsListChanged: listens.includes(m.id) };
      write({ method: "notifications/subscriptions/acknowledged", params: { _meta: { "io.modelcontextprotocol/subscriptionId": m.id }, notifications: ack } });
      continue;
    }
    write({ id: m.id, ...answer(m) });
  }
});
`
