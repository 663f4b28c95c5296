import { afterAll, describe, expect, it } from "vitest"
import {
  isRequest,
  isResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcResponse,
  type McpChannel,
  type McpConnector,
  type McpTarget,
} from "@dtma/domain"
import { failureOf, run } from "../effects.ts"

/** A connector under test, with a server it can reach and a target where nothing serves MCP. */
export interface McpConnectorSubject {
  readonly connector: McpConnector
  /** A running MCP server with at least one tool. */
  readonly target: McpTarget
  /** A target where nothing serves MCP. */
  readonly unreachable: McpTarget
  /** What connects are allowed; default 15 s. */
  readonly timeoutMs?: number
  /** Removes whatever the run left behind. */
  readonly cleanup?: () => Promise<void>
}

const INITIALIZE = {
  protocolVersion: "2025-11-25",
  capabilities: {},
  clientInfo: { name: "dtma-contract", version: "1.0.0" },
}

/**
 * A minimal client over a channel: requests by id, pings answered, everything else refused. Ids are
 * integers, as SDK clients send them: supergateway 4 (WebSocket) answers any other id with `null`.
 */
const clientOf = (channel: McpChannel) => {
  const waiting = new Map<JsonRpcId, (response: JsonRpcResponse) => void>()
  let nextId = 1
  channel.onMessage((m: JsonRpcMessage) => {
    if (isResponse(m)) return void (m.id === null ? undefined : waiting.get(m.id)?.(m))
    if (!isRequest(m)) return
    const reply: JsonRpcMessage =
      m.method === "ping" ? { jsonrpc: "2.0", id: m.id, result: {} } : { jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "Method not found" } }
    void run(channel.send(reply))
  })
  const request = (method: string, params?: Record<string, unknown>): Promise<JsonRpcResponse> => {
    const id = nextId++
    const answered = new Promise<JsonRpcResponse>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${method} within 10 s`)), 10_000)
      waiting.set(id, (response) => {
        clearTimeout(timer)
        waiting.delete(id)
        resolve(response)
      })
    })
    return run(channel.send({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) })).then(() => answered)
  }
  const notify = (method: string) => run(channel.send({ jsonrpc: "2.0", method }))
  return { request, notify }
}

const resultOf = (response: JsonRpcResponse): Readonly<Record<string, unknown>> => {
  if ("error" in response) throw new Error(`expected a result, got error ${JSON.stringify(response.error)}`)
  return response.result
}

/** Behaviour every McpConnector must have; run on the fake always and on real servers in the Docker suite. */
export const mcpConnectorContract = (label: string, setup: () => Promise<McpConnectorSubject>): void => {
  describe(`McpConnector contract: ${label}`, () => {
    let subject: Promise<McpConnectorSubject> | undefined
    const get = () => (subject ??= setup())
    const channels: Array<McpChannel> = []
    const connect = async () => {
      const { connector, target, timeoutMs } = await get()
      const channel = await run(connector.connect(target, { timeoutMs: timeoutMs ?? 15_000 }))
      channels.push(channel)
      return channel
    }
    afterAll(async () => {
      for (const c of channels) await run(c.close())
      if (subject !== undefined) await (await subject).cleanup?.()
    })

    it("passes initialize through by hand and returns the server's answer with its serverInfo", async () => {
      const client = clientOf(await connect())
      const result = resultOf(await client.request("initialize", INITIALIZE))
      expect(result).toMatchObject({ protocolVersion: expect.any(String), serverInfo: { name: expect.any(String) }, capabilities: expect.any(Object) })
    })

    it("lists tools after initialize and notifications/initialized", async () => {
      const client = clientOf(await connect())
      resultOf(await client.request("initialize", INITIALIZE))
      await client.notify("notifications/initialized")
      const result = resultOf(await client.request("tools/list", {}))
      expect(Array.isArray(result["tools"])).toBe(true)
      expect((result["tools"] as ReadonlyArray<unknown>).length).toBeGreaterThan(0)
    })

    it("answers a request with an unknown method with a JSON-RPC error", async () => {
      const client = clientOf(await connect())
      resultOf(await client.request("initialize", INITIALIZE))
      await client.notify("notifications/initialized")
      const response = await client.request("dtma/no-such-method", {})
      expect(response).toMatchObject({ error: { code: -32601 } })
    })

    it("closes idempotently, calls onClose exactly once and then refuses to send", async () => {
      const channel = await connect()
      const reasons: Array<string> = []
      channel.onClose((reason) => reasons.push(reason))
      await run(channel.close())
      await run(channel.close())
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(reasons).toHaveLength(1)
      expect(await failureOf(channel.send({ jsonrpc: "2.0", id: 1, method: "ping" }))).toMatchObject({ _tag: "McpConnectFailed", reason: "closed" })
    })

    it("fails to connect to an unreachable target within the time allowed", async () => {
      const { connector, unreachable } = await get()
      const started = Date.now()
      const error = await failureOf(connector.connect(unreachable, { timeoutMs: 1_500 }))
      expect(error).toMatchObject({ _tag: "McpConnectFailed" })
      expect(["unreachable", "timeout"]).toContain(error.reason)
      expect(Date.now() - started).toBeLessThan(1_500 + 1_000)
    })
  })
}
