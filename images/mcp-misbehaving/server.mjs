// A tiny MCP stdio server (no dependencies) that misbehaves on purpose, for fault tests and the
// chaos soak. The first argument picks the behaviour:
//
//   ok                        a well-behaved server with one tool, `echo` ({message}) → "Echo: <message>"
//   flood-stderr [bytesPerS] [on-signal]
//                             as `ok`, and writes text lines to stderr without pause, at bytesPerS
//                             (default 8 MiB/s), from the moment it starts; with `on-signal`, from the
//                             first SIGUSR2 (`docker kill -s USR2`) on, so a test can measure before it
//   huge-line [bytes] [unterminated]
//                             as `ok` until a tools/call: its answer to every tools/call is one stdout
//                             line of `bytes` (default 64 MiB), a valid JSON-RPC response; with
//                             `unterminated` the line never ends (no newline, ever: later output joins it)
//   no-initialize             reads requests and answers none, not even `initialize`; it says so on stderr
//
// Every mode logs one line to stderr at start ("mcp-misbehaving <mode> started").
// Env MCP_TOOL_COUNT (1–10000, default 1): how many tools it lists, `echo` and then `tool-2` … `tool-<n>`,
// each echoing like `echo` (a large catalog, for benchmarks of lists).
import process from "node:process"

const MIB = 1024 * 1024
const [mode = "ok", arg1, arg2] = process.argv.slice(2)
const MODES = ["ok", "flood-stderr", "huge-line", "no-initialize"]
if (!MODES.includes(mode)) {
  process.stderr.write(`mcp-misbehaving: unknown mode '${mode}' (one of ${MODES.join(", ")})\n`)
  process.exit(2)
}
const number = (text, fallback) => (text === undefined || !/^\d+$/.test(text) ? fallback : Number(text))
process.stderr.write(`mcp-misbehaving ${mode} started\n`)

// All stdout goes through one queue, so a huge line written in pieces is never interleaved.
let queue = Promise.resolve()
const writeOut = (chunk) =>
  new Promise((resolve) => {
    if (process.stdout.write(chunk)) resolve()
    else process.stdout.once("drain", resolve)
  })
const send = (pieces) => {
  queue = queue.then(async () => {
    for (const piece of pieces) await writeOut(piece)
  })
}
const reply = (id, result) => send([`${JSON.stringify({ jsonrpc: "2.0", id, result })}\n`])
const fail = (id, code, message) => send([`${JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } })}\n`])

const ECHO = {
  name: "echo",
  description: "Echoes back the input",
  inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
}
const toolCount = Math.min(10_000, Math.max(1, number(process.env.MCP_TOOL_COUNT, 1)))
const TOOLS = [
  ECHO,
  ...Array.from({ length: toolCount - 1 }, (_, i) => ({
    name: `tool-${i + 2}`,
    description: `Tool ${i + 2} of ${toolCount}: echoes back the input, like echo`,
    inputSchema: {
      type: "object",
      properties: { message: { type: "string", description: "The text to echo back" }, repeat: { type: "integer", minimum: 1, maximum: 10 } },
      required: ["message"],
    },
  })),
]
const TOOL_NAMES = new Set(TOOLS.map((t) => t.name))

const hugeAnswer = (id) => {
  const bytes = number(arg1, 64 * MIB)
  const head = `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"content":[{"type":"text","text":"`
  const tail = `"}]}}${arg2 === "unterminated" ? "" : "\n"}`
  const filler = Math.max(0, bytes - head.length - tail.length)
  const block = "x".repeat(MIB)
  const pieces = [head]
  for (let left = filler; left > 0; left -= MIB) pieces.push(left >= MIB ? block : block.slice(0, left))
  if (arg2 !== "unterminated") pieces.push(tail)
  process.stderr.write(`mcp-misbehaving huge-line: answering request ${JSON.stringify(id)} with a ${bytes}-byte line\n`)
  send(pieces)
}

const handle = (message) => {
  if (mode === "no-initialize") {
    process.stderr.write(`mcp-misbehaving no-initialize: got ${message.method ?? "a response"}, not answering\n`)
    return
  }
  const { id, method, params } = message
  if (id === undefined || method === undefined) return // notifications and responses
  switch (method) {
    case "initialize":
      return reply(id, {
        protocolVersion: typeof params?.protocolVersion === "string" ? params.protocolVersion : "2025-06-18",
        capabilities: { tools: {} },
        serverInfo: { name: "mcp-misbehaving", version: "1.0.0" },
      })
    case "ping":
      return reply(id, {})
    case "tools/list":
      return reply(id, { tools: TOOLS })
    case "tools/call":
      if (mode === "huge-line") return hugeAnswer(id)
      if (!TOOL_NAMES.has(params?.name)) return fail(id, -32602, `unknown tool: ${params?.name}`)
      return reply(id, { content: [{ type: "text", text: `Echo: ${params?.arguments?.message ?? ""}` }] })
    default:
      return fail(id, -32601, `method not found: ${method}`)
  }
}

let pending = ""
process.stdin.setEncoding("utf8")
process.stdin.on("data", (chunk) => {
  pending += chunk
  for (let at = pending.indexOf("\n"); at >= 0; at = pending.indexOf("\n")) {
    const line = pending.slice(0, at).trim()
    pending = pending.slice(at + 1)
    if (line === "") continue
    try {
      handle(JSON.parse(line))
    } catch (error) {
      process.stderr.write(`mcp-misbehaving: skipped a line that is not JSON: ${String(error)}\n`)
    }
  }
})
// Stdin closed: the attachment is gone for good (a server with `StdinOnce`); stop like a real server.
process.stdin.on("end", () => void queue.then(() => process.exit(0)))

const flood = () => {
  const perSecond = number(arg1, 8 * MIB)
  const line = `mcp-misbehaving flood-stderr: ${"y".repeat(1000)}\n`
  const TICK_MS = 10
  let blocked = false
  let sequence = 0
  setInterval(() => {
    if (blocked) return
    let budget = Math.ceil((perSecond * TICK_MS) / 1000)
    const lines = []
    while (budget > 0) {
      lines.push(`${++sequence} ${line}`)
      budget -= line.length
    }
    if (!process.stderr.write(lines.join(""))) {
      blocked = true
      process.stderr.once("drain", () => (blocked = false))
    }
  }, TICK_MS)
}
if (mode === "flood-stderr" && arg2 === "on-signal") {
  process.once("SIGUSR2", () => {
    process.stderr.write("mcp-misbehaving flood-stderr: SIGUSR2, flooding from now on\n")
    flood()
  })
} else if (mode === "flood-stderr") flood()

for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0))
