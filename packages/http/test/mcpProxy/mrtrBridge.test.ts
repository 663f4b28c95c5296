import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { z } from "zod"
import type { Grants } from "@dtma/domain"
import { DEFAULT_MCP_CONFIG, type McpConfig } from "../../src/composition/mcpConfig.ts"
import { auditRecords, McpServingRuntime, startTestApp, TOKEN, type TestApp } from "../support/support.ts"

// The MRTR bridge on the fakes: a 2025-era server asks a 2026-07-28 client something about its
// call; the DTMA holds the call, answers the client input_required with a sealed requestState, and
// the client's retry answers the server and gets its result (basic/patterns/mrtr.mdx).

const IMAGE = "dtma/mcp-mrtr-asker:1"
const MODERN = "2026-07-28"

/** What the server's requests got back, one line per ask, in order. */
const outcomes: Array<string> = []

/** Tool `ask` sends `requests` to its client about the call (one after the other, or all at once) and answers what came back. */
const askerServer = (): McpServer => {
  const server = new McpServer({ name: "mrtr-asker", version: "1.0.0" })
  const request = z.object({ method: z.string(), params: z.record(z.string(), z.unknown()).optional() })
  const args = { requests: z.array(request), together: z.boolean().optional() }
  server.registerTool("ask", { description: "asks the client", inputSchema: args }, async ({ requests, together }, extra) => {
    const one = async (r: z.infer<typeof request>): Promise<string> => {
      try {
        const result = await extra.sendRequest(r as never, z.looseObject({}))
        return `answered ${JSON.stringify(result)}`
      } catch (error) {
        const e = error as { code?: number; message?: string }
        return `refused ${String(e.code)} ${String(e.message)}`
      } finally {
        outcomes.push(r.method)
      }
    }
    const lines: Array<string> = []
    if (together === true) lines.push(...(await Promise.all(requests.map(one))))
    else for (const r of requests) lines.push(await one(r))
    outcomes.push(...lines)
    return { content: [{ type: "text", text: lines.join("\n") }] }
  })
  return server
}

let app: TestApp
afterEach(async () => {
  outcomes.length = 0
  await app.close()
})

const startApp = async (mcp: Partial<McpConfig> = {}): Promise<void> => {
  const runtime = new McpServingRuntime({ images: [IMAGE] })
  runtime.servers.set(IMAGE, askerServer)
  app = await startTestApp({ runtime, config: { mcp: { ...DEFAULT_MCP_CONFIG, pingBaseMs: 600_000, pingMaxMs: 600_000, ...mcp } } })
  const deploy = (name: string, mcpTarget: Parameters<typeof app.mcpServers.deploy>[0]["mcp"], ports: Parameters<typeof app.mcpServers.deploy>[0]["ports"]) =>
    Effect.runPromise(app.mcpServers.deploy({ name, accountToolInstanceId: null, image: IMAGE, env: [], ports, mcp: mcpTarget }))
  await deploy("local", { transport: "stdio", endpointPath: null, port: null }, [])
  await deploy("remote", { transport: "streamable_http", endpointPath: "/mcp", port: 3000 }, [
    { containerPort: 3000, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null },
  ])
}

const endpoint = (name: string) => `${app.base}/mcp-servers/${name}/mcp`
const mint = (sub: string, server = "local") => {
  const grants: Grants = [{ target: { server }, tools: ["*"], prompts: [], resources: false }]
  return Effect.runPromise(app.agentAccess.tokens.mint({ sub, grants, ttlSeconds: 900 }))
}

const ELICIT = {
  method: "elicitation/create",
  params: { message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } },
}
const SAMPLE = { method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: "hi" } }], maxTokens: 5 } }
const ELICITING = { elicitation: { form: {} } }

interface Call {
  readonly url: string
  readonly token?: string
  readonly name?: string
  readonly args: Record<string, unknown>
  readonly capabilities?: Record<string, unknown>
  readonly id?: number
  /** A retry's fields. */
  readonly retry?: { readonly inputResponses?: unknown; readonly requestState: unknown }
}

/** A hand-made 2026-07-28 tools/call; its HTTP status and JSON-RPC answer. */
const call = async (c: Call): Promise<{ status: number; answer: { id: unknown; result?: Record<string, unknown>; error?: Record<string, unknown> } }> => {
  const name = c.name ?? "ask"
  const meta = { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": c.capabilities ?? ELICITING }
  const res = await fetch(c.url, {
    method: "POST",
    headers: {
      authorization: `Bearer ${c.token ?? TOKEN}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": MODERN,
      "mcp-method": "tools/call",
      "mcp-name": name,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: c.id ?? 1, method: "tools/call", params: { name, arguments: c.args, ...c.retry, _meta: meta } }),
  })
  return { status: res.status, answer: res.status === 401 ? { id: null } : ((await res.json()) as never) }
}

const textOf = (result: Record<string, unknown> | undefined): string => (result as { content: Array<{ text: string }> }).content[0]!.text
const NAMED = (who: string) => ({ action: "accept" as const, content: { name: who } })

/** Calls `args` and gets to the first input_required; its state. */
const held = async (c: Call): Promise<{ requestState: string; inputRequests: Record<string, unknown> }> => {
  const first = await call(c)
  expect(first.answer.result).toMatchObject({ resultType: "input_required" })
  return first.answer.result as never
}

describe.each(["local", "remote"])("a server (%s) asking a 2026-07-28 client about its call", (server) => {
  it("holds the call and answers the client input_required; the retry's input reaches the server and the retry gets its result", async () => {
    await startApp()
    const first = await call({ url: endpoint(server), args: { requests: [ELICIT] } })
    expect(first.answer).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: {
        resultType: "input_required",
        inputRequests: { r1: ELICIT },
        requestState: expect.stringMatching(/^[A-Za-z0-9_-]{40,}$/),
        _meta: { "io.modelcontextprotocol/serverInfo": { name: "mrtr-asker", version: "1.0.0" } },
      },
    })
    expect(outcomes).toEqual([])
    const { requestState } = first.answer.result as { requestState: string }
    const retry = await call({ url: endpoint(server), id: 2, args: { requests: [ELICIT] }, retry: { inputResponses: { r1: NAMED("ada") }, requestState } })
    expect(retry.answer).toMatchObject({
      id: 2,
      result: { resultType: "complete", content: [{ text: 'answered {"action":"accept","content":{"name":"ada"}}' }] },
    })
  })

  it("puts what the server asks at once in one input_required, and what it asks next in another round", async () => {
    await startApp()
    const url = endpoint(server)
    const together = { requests: [ELICIT, SAMPLE], together: true }
    const capabilities = { ...ELICITING, sampling: {} }
    const first = await held({ url, args: together, capabilities })
    expect(Object.keys(first.inputRequests).sort()).toEqual(["r1", "r2"])
    const inputResponses = { r1: NAMED("ada"), r2: { role: "assistant", content: { type: "text", text: "yo" }, model: "m" } }
    const done = await call({ url, id: 2, args: together, capabilities, retry: { inputResponses, requestState: first.requestState } })
    expect(textOf(done.answer.result).split("\n")).toHaveLength(2)
    expect(textOf(done.answer.result)).toContain('"name":"ada"')

    const inTurn = { requests: [ELICIT, ELICIT] }
    const one = await held({ url, args: inTurn })
    const two = await call({ url, id: 3, args: inTurn, retry: { inputResponses: { r1: NAMED("ada") }, requestState: one.requestState } })
    expect(two.answer.result).toMatchObject({ resultType: "input_required", inputRequests: { r2: ELICIT } })
    const state = (two.answer.result as { requestState: string }).requestState
    expect(state).not.toBe(one.requestState)
    const three = await call({ url, id: 4, args: inTurn, retry: { inputResponses: { r2: NAMED("bob") }, requestState: state } })
    expect(textOf(three.answer.result)).toBe('answered {"action":"accept","content":{"name":"ada"}}\nanswered {"action":"accept","content":{"name":"bob"}}')
  })

  it("asks again what the retry's input left unanswered", async () => {
    await startApp()
    const args = { requests: [ELICIT] }
    const first = await held({ url: endpoint(server), args })
    const again = await call({ url: endpoint(server), id: 2, args, retry: { inputResponses: {}, requestState: first.requestState } })
    expect(again.answer.result).toMatchObject({ resultType: "input_required", inputRequests: { r1: ELICIT } })
  })

  it("answers the server MethodNotFound, asking nobody, when the request did not declare the capability in its clientCapabilities", async () => {
    await startApp()
    const plain = await call({ url: endpoint(server), args: { requests: [ELICIT, SAMPLE] }, capabilities: {} })
    expect(plain.answer.result).toMatchObject({ resultType: "complete" })
    expect(textOf(plain.answer.result).split("\n")).toEqual([
      "refused -32601 MCP error -32601: the client did not declare the elicitation capability in this request's clientCapabilities",
      "refused -32601 MCP error -32601: the client did not declare the sampling capability in this request's clientCapabilities",
    ])
  })

  it("refuses a replayed, altered or another request's requestState with -32602, and the held call still completes", async () => {
    await startApp()
    const url = endpoint(server)
    const args = { requests: [ELICIT] }
    const first = await held({ url, args })
    const refusal = (answer: { error?: Record<string, unknown> }) => [answer.error?.["code"], (answer.error?.["data"] as { reason?: string })?.reason]
    const flipped = first.requestState.slice(0, 10) + (first.requestState[10] === "A" ? "B" : "A") + first.requestState.slice(11)
    const altered = await call({ url, id: 2, args, retry: { inputResponses: { r1: NAMED("x") }, requestState: flipped } })
    expect(refusal(altered.answer)).toEqual([-32602, "invalid"])
    expect(altered.answer.error?.["message"]).toMatch(/^Invalid params: requestState is not valid/)
    const other = await call({ url, id: 3, args: { requests: [SAMPLE] }, retry: { inputResponses: { r1: NAMED("x") }, requestState: first.requestState } })
    expect(refusal(other.answer)).toEqual([-32602, "mismatch"])
    const forged = await call({ url, id: 4, args, retry: { inputResponses: { r1: NAMED("x") }, requestState: "bm90IGEgc3RhdGUgb2YgdGhlIERUTUEncw" } })
    expect(refusal(forged.answer)).toEqual([-32602, "invalid"])
    expect(outcomes).toEqual([])
    const done = await call({ url, id: 5, args, retry: { inputResponses: { r1: NAMED("ada") }, requestState: first.requestState } })
    expect(textOf(done.answer.result)).toContain('"name":"ada"')
    const replayed = await call({ url, id: 6, args, retry: { inputResponses: { r1: NAMED("eve") }, requestState: first.requestState } })
    expect(refusal(replayed.answer)).toEqual([-32602, "used"])
  })

  it("ends a held call when its lifetime is over (the server hears an error), refuses its state as expired, and lets the server ask again", async () => {
    await startApp({ mrtrTtlMs: 200 })
    const args = { requests: [ELICIT] }
    const first = await held({ url: endpoint(server), args })
    await expect.poll(() => outcomes).toEqual(["elicitation/create", expect.stringMatching(/^refused -32001 .*did not answer within 200 ms/)])
    const late = await call({ url: endpoint(server), id: 2, args, retry: { inputResponses: { r1: NAMED("ada") }, requestState: first.requestState } })
    expect(late.answer.error).toMatchObject({ code: -32602, data: { reason: "expired" } })
    // The server ended that call itself: nothing is left running there, so its next request is put to its client again.
    const next = await held({ url: endpoint(server), id: 3, args })
    const done = await call({ url: endpoint(server), id: 4, args, retry: { inputResponses: { r1: NAMED("ada") }, requestState: next.requestState } })
    expect(textOf(done.answer.result)).toContain('"name":"ada"')
  })
})

describe("an agent's held call", () => {
  it("is refused to another agent, and to the same agent on another endpoint", async () => {
    await startApp()
    const [mine, theirs] = [await mint("agent-1"), await mint("agent-2")]
    const args = { requests: [ELICIT] }
    const first = await held({ url: endpoint("local"), token: mine, args })
    const retry = { inputResponses: { r1: NAMED("eve") }, requestState: first.requestState }
    const stolen = await call({ url: endpoint("local"), token: theirs, id: 2, args, retry })
    expect(stolen.answer.error).toMatchObject({ code: -32602, data: { reason: "invalid" } })
    const elsewhere = await call({ url: `${app.base}/mcp`, token: mine, name: "local__ask", id: 3, args, retry })
    expect(elsewhere.answer.error).toMatchObject({ code: -32602, data: { reason: "mismatch" } })
    const done = await call({ url: endpoint("local"), token: mine, id: 4, args, retry: { ...retry, inputResponses: { r1: NAMED("ada") } } })
    expect(textOf(done.answer.result)).toContain('"name":"ada"')
  })

  it("is cancelled upstream when the agent is revoked", async () => {
    await startApp()
    const token = await mint("agent-1")
    const args = { requests: [ELICIT] }
    const first = await held({ url: endpoint("local"), token, args })
    await Effect.runPromise(app.agentAccess.access.revokeAgent("agent-1"))
    await expect.poll(() => outcomes).toEqual(["elicitation/create", expect.stringMatching(/^refused -32600 /)])
    const retry = await call({ url: endpoint("local"), token, id: 2, args, retry: { inputResponses: { r1: NAMED("ada") }, requestState: first.requestState } })
    expect(retry.status).toBe(401)
  })

  it("is audited request by request: the call and its retry each ok, a refused retry an error with its code, none with a session", async () => {
    await startApp()
    const token = await mint("agent-1")
    const args = { requests: [ELICIT] }
    const before = app.auditLog.records.length
    const first = await held({ url: endpoint("local"), token, args })
    const retry = { inputResponses: { r1: NAMED("ada") }, requestState: first.requestState }
    await call({ url: endpoint("local"), token, id: 2, args, retry })
    await call({ url: endpoint("local"), token, id: 3, args, retry })
    const records = (await auditRecords(app.auditLog, before + 3)).slice(before)
    expect(records.map((r) => [r.method, r.name, r.outcome, r.errorCode, r.sessionId])).toEqual([
      ["tools/call", "ask", "ok", null, null],
      ["tools/call", "ask", "ok", null, null],
      ["tools/call", "ask", "error", "-32602", null],
    ])
  })
})

describe("the v2 SDK client pinned to 2026-07-28", () => {
  it.each(["the server's endpoint", "/mcp"])("completes an eliciting call through MRTR with the answer its handler gave, on %s", async (where) => {
    await startApp()
    const token = await mint("agent-1")
    const url = where === "/mcp" ? `${app.base}/mcp` : endpoint("local")
    const client = new ModernClient({ name: "modern", version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN } }, capabilities: ELICITING })
    client.setRequestHandler("elicitation/create", async () => NAMED("sdk"))
    await client.connect(new ModernTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
    const name = where === "/mcp" ? "local__ask" : "ask"
    const result = await client.callTool({ name, arguments: { requests: [ELICIT] } })
    expect(textOf(result as never)).toBe('answered {"action":"accept","content":{"name":"sdk"}}')
    await client.close()
  })
})
