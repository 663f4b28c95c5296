import { describe, expect, it } from "vitest"
import { costGroupOf, sourceUrlOf, type Frame } from "../lib/costGroups.ts"

const PNPM = "file:///work/node_modules/.pnpm"
const frame = (functionName: string, url = ""): Frame => ({ functionName, url })
const koa = frame("dispatch", `${PNPM}/koa-compose@4.1.0/node_modules/koa-compose/index.js`)
const postAnswer = frame("settle", "file:///work/packages/http/src/mcpProxy/PostAnswer.ts")
const attach = frame("send", "file:///work/packages/adapters/src/mcp/AttachStdioTransport.ts")
const socket = frame("Socket._writeGeneric", "node:net")
const effect = frame("runLoop", `${PNPM}/effect@4.1.0/node_modules/effect/dist/internal/effect.js`)
const upstream = frame("forward", "file:///work/packages/domain/src/mcp/UpstreamSession.ts")
const auth = frame("isOperatorKey", "file:///work/packages/http/src/server/auth.ts")

describe("the cost group of a profile sample", () => {
  it.each([
    ["an answer's write", [frame("writev"), socket, postAnswer, koa], "writes: the answer"],
    ["an answer written inside the upstream's read callback", [frame("writev"), socket, postAnswer, effect, upstream, attach], "writes: the answer"],
    ["a write to the attach stream", [frame("writeUtf8String"), socket, attach, effect, upstream], "writes: upstream"],
    ["JSON.stringify called by the proxy", [frame("stringify"), postAnswer, koa], "JSON parse/stringify"],
    ["a token digest", [frame("digest", "node:internal/crypto/hash"), auth, koa], "auth (origin, token, rate limit)"],
    ["effect's run loop under the upstream session", [effect, effect, upstream, postAnswer], "upstream side"],
    ["effect's run loop with no caller of ours", [effect, frame("processTicksAndRejections", "node:internal/process/task_queues")], "effect runtime"],
    ["Koa's own frames over a middleware", [koa, auth], "Koa middleware chain"],
    ["a bourne parse", [frame("parse", `${PNPM}/@hapi+bourne@3.0.0/node_modules/@hapi/bourne/lib/index.js`), koa], "body parsing"],
    ["a pino line", [frame("write", `${PNPM}/pino@10.4.0/node_modules/pino/lib/proto.js`), koa], "logging and metrics"],
    ["the HTTP parser", [frame("parserOnHeadersComplete", "node:_http_common")], "node HTTP and streams"],
    ["a collection", [frame("(garbage collector)")], "garbage collector"],
  ] as const)("puts %s in %s", (_, stack, group) => {
    expect(costGroupOf(stack)).toBe(group)
  })
})

describe("a script of the built DTMA", () => {
  it("is named by its source, so it falls in its source's group; dependencies' dist/ stays as it is", () => {
    expect(sourceUrlOf("file:///work/packages/http/dist/mcpProxy/PostAnswer.js")).toBe(postAnswer.url)
    expect(costGroupOf([frame("writev"), socket, frame("settle", sourceUrlOf("file:///work/packages/http/dist/mcpProxy/PostAnswer.js"))])).toBe(
      "writes: the answer",
    )
    expect(sourceUrlOf(effect.url)).toBe(effect.url)
  })
})
