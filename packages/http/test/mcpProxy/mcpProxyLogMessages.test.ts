import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { Grants } from "@dtma/domain"
import { answerOf, GRANTS_IMAGE, listen, openSession, postIn, startGrantsApp, type GrantsApp, type Stream } from "../support/grantsSupport.ts"
import { DEFAULT_MCP_CONFIG } from "../../src/composition/mcpConfig.ts"
import { sseMessages } from "../support/mcpProxySupport.ts"
import { TOKEN } from "../support/support.ts"

let app: GrantsApp
afterEach(() => app.close())

const ALL: Grants = ["fixture", "remote"].map((server) => ({ target: { server }, tools: ["*"], prompts: ["*"], resources: true }))

/**
 * The DTMA with the grants fixture shared over stdio (`fixture`) and over Streamable HTTP (`remote`).
 * Its pings are pushed out of the way: over stdio, one in flight beside a request hides whose a log message is.
 */
const startApp = async (): Promise<void> => {
  app = await startGrantsApp({ config: { mcp: { ...DEFAULT_MCP_CONFIG, pingBaseMs: 600_000, pingMaxMs: 600_000 } } })
  const mcp = { transport: "streamable_http", endpointPath: "/mcp", port: 3000 } as const
  const ports = [{ containerPort: 3000, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null }] as const
  await Effect.runPromise(app.mcpServers.deploy({ name: "remote", accountToolInstanceId: null, image: GRANTS_IMAGE, env: [], ports, mcp }))
}

interface Agent {
  readonly token: string
  readonly session: string
  /** Its session's notification stream. */
  readonly stream: Stream
}

/** Agent `sub`'s session on `server`, its notification stream open, subscribed to `test://open` (a resource's updates mark where a stream got to). */
const agentOn = async (server: string, sub: string): Promise<Agent> => {
  const token = await app.mint(ALL, { sub })
  const session = await openSession(app.endpoint(server), token)
  const stream = await listen(app.endpoint(server), session, token)
  expect(stream.status).toBe(200)
  await answerOf(await postIn(app.endpoint(server), session, token, { jsonrpc: "2.0", id: 90, method: "resources/subscribe", params: { uri: "test://open" } }))
  return { token, session, stream }
}

const logCall = (id: number, args: Record<string, unknown>, progress = false) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "log", arguments: args, ...(progress ? { _meta: { progressToken: `p-${id}` } } : {}) },
})

/** The methods and log data each stream carried up to a resource update sent after everything before it. */
const upToNow = async (server: string, ...agents: ReadonlyArray<Agent>): Promise<Array<Array<unknown>>> => {
  const operator = await openSession(app.endpoint(server), TOKEN)
  await answerOf(
    await postIn(app.endpoint(server), operator, TOKEN, {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "touch", arguments: { uri: "test://open" } },
    }),
  )
  for (const a of agents) await expect.poll(() => a.stream.messages.map((m) => m["method"]), { timeout: 5_000 }).toContain("notifications/resources/updated")
  return agents.map((a) => a.stream.messages.map((m) => (m["method"] === "notifications/message" ? (m["params"] as { data: unknown }).data : m["method"])))
}

describe.each(["fixture", "remote"])("a log message of a shared server (%s), with two agents' sessions on it", (server) => {
  it("reaches, on its request's event stream, only the session whose request it was sent about", async () => {
    await startApp()
    const [a, b] = [await agentOn(server, "agent-a"), await agentOn(server, "agent-b")]
    const answer = await postIn(app.endpoint(server), a.session, a.token, logCall(2, { text: "a's call" }, true))
    expect(answer.headers.get("content-type")).toBe("text/event-stream")
    expect(await sseMessages(answer)).toEqual([
      { jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "a's call" } },
      { jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "logged" }] } },
    ])
    expect(await upToNow(server, a, b)).toEqual([["notifications/resources/updated"], ["notifications/resources/updated"]])
  })

  it("reaches, when its request is answered with one JSON body, only that session's notification stream", async () => {
    await startApp()
    const [a, b] = [await agentOn(server, "agent-a"), await agentOn(server, "agent-b")]
    const answer = await postIn(app.endpoint(server), a.session, a.token, logCall(2, { text: "a's call" }))
    expect(answer.headers.get("content-type")).toBe("application/json")
    expect(await answer.json()).toEqual({ jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "logged" }] } })
    expect(await upToNow(server, a, b)).toEqual([["a's call", "notifications/resources/updated"], ["notifications/resources/updated"]])
  })
})

/** The DTMA's log lines about log messages it kept from every client. */
const noted = () =>
  app.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l["msg"] === "MCP server log message kept from every client")

describe("a log message of a shared server that cannot be told as any request's", () => {
  it("over stdio, sent while two requests are in flight, reaches no session and is noted in the DTMA's log at debug without its content", async () => {
    await startApp()
    const [a, b] = [await agentOn("fixture", "agent-a"), await agentOn("fixture", "agent-b")]
    const hold = { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "hold", arguments: { tag: "h" } } }
    const held = postIn(app.endpoint("fixture"), a.session, a.token, hold)
    await expect.poll(() => app.probe.held.has("h")).toBe(true)
    const logged = await postIn(app.endpoint("fixture"), b.session, b.token, logCall(4, { text: "sk-secret-whose" }, true))
    expect((await sseMessages(logged)).map((m) => m["method"] ?? m["id"])).toEqual([4])
    app.probe.held.get("h")?.()
    expect(await answerOf(await held)).toMatchObject({ id: 3, result: { content: [{ text: "released h" }] } })
    expect(await upToNow("fixture", a, b)).toEqual([["notifications/resources/updated"], ["notifications/resources/updated"]])
    expect(noted()).toEqual([expect.objectContaining({ level: "debug", server: "fixture", logLevel: "info", dataBytes: '"sk-secret-whose"'.length })])
    expect(app.logs.join("\n")).not.toContain("sk-secret")
  })

  it("over Streamable HTTP, sent on no request's stream, reaches no session, though one request was in flight, and is noted the same", async () => {
    await startApp()
    const [a, b] = [await agentOn("remote", "agent-a"), await agentOn("remote", "agent-b")]
    const logged = await postIn(app.endpoint("remote"), b.session, b.token, logCall(4, { text: "sk-secret-whose", aside: true }, true))
    expect((await sseMessages(logged)).map((m) => m["method"] ?? m["id"])).toEqual([4])
    expect(await upToNow("remote", a, b)).toEqual([["notifications/resources/updated"], ["notifications/resources/updated"]])
    expect(noted()).toEqual([expect.objectContaining({ level: "debug", server: "remote", logLevel: "info", dataBytes: '"sk-secret-whose"'.length })])
    expect(app.logs.join("\n")).not.toContain("sk-secret")
  })
})

describe("logging/setLevel on a shared server", () => {
  it("from an agent is answered by the DTMA and sets the level of the agent's session only; the server never hears it", async () => {
    await startApp()
    const [a, b] = [await agentOn("fixture", "agent-a"), await agentOn("fixture", "agent-b")]
    const setLevel = await postIn(app.endpoint(), a.session, a.token, { jsonrpc: "2.0", id: 5, method: "logging/setLevel", params: { level: "warning" } })
    expect(await setLevel.json()).toEqual({ jsonrpc: "2.0", id: 5, result: {} })
    for (const [agent, id, level] of [
      [a, 6, "info"],
      [a, 7, "error"],
      [b, 8, "info"],
    ] as const) {
      await answerOf(await postIn(app.endpoint(), agent.session, agent.token, logCall(id, { text: `${level} of ${id}`, level })))
    }
    expect(await upToNow("fixture", a, b)).toEqual([
      ["error of 7", "notifications/resources/updated"],
      ["info of 8", "notifications/resources/updated"],
    ])
    expect(app.probe.seen.map((m) => m.method)).not.toContain("logging/setLevel")
  })

  it("from an agent, with a level MCP does not name, is answered with an Invalid params error naming the levels", async () => {
    await startApp()
    const a = await agentOn("fixture", "agent-a")
    const answer = await postIn(app.endpoint(), a.session, a.token, { jsonrpc: "2.0", id: 5, method: "logging/setLevel", params: { level: "loud" } })
    expect(await answer.json()).toEqual({
      jsonrpc: "2.0",
      id: 5,
      error: {
        code: -32602,
        message: "Invalid params: logging/setLevel takes a level, one of debug, info, notice, warning, error, critical, alert, emergency",
      },
    })
  })

  it("from the operator goes to the server: it sets the level of the connection every session shares", async () => {
    await startApp()
    const operator = await openSession(app.endpoint(), TOKEN)
    const answer = await postIn(app.endpoint(), operator, TOKEN, { jsonrpc: "2.0", id: 5, method: "logging/setLevel", params: { level: "error" } })
    expect(await answerOf(answer)).toEqual({ jsonrpc: "2.0", id: 5, result: {} })
    expect(app.probe.seen).toContainEqual({ method: "logging/setLevel", params: { level: "error" } })
  })
})
