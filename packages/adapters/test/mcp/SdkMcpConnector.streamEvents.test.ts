import { afterEach, describe, expect, it } from "vitest"
import type { JsonRpcMessage, McpChannel } from "@dtma/domain"
import { run } from "@dtma/testing"
import { makeSdkMcpConnector } from "../../src/mcp/SdkMcpConnector.ts"
import type { TransportProblem } from "../../src/mcp/transportProblems.ts"
import { FakeDockerApi } from "../docker/FakeDockerApi.ts"
import { startEventStoreServer, type EventStoreServer, type Extras } from "./eventStoreServer.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let server: EventStoreServer | null = null
afterEach(async () => {
  await server?.close()
  server = null
})

/** A channel to a fresh event-store server, with what it delivers and what the connector reports. */
const connected = async (options: { readonly retryMs: number; readonly extras?: Extras }) => {
  server = await startEventStoreServer(options)
  const reported: Array<TransportProblem> = []
  const connector = makeSdkMcpConnector({ docker: new FakeDockerApi(), onTransportProblem: (_, problem) => reported.push(problem) })
  const channel: McpChannel = await run(
    connector.connect(
      { transport: "streamable_http", containerId: "c", endpoint: { hostPort: Number(new URL(server.url).port), path: new URL(server.url).pathname } },
      { timeoutMs: 2_000 },
    ),
  )
  const delivered: Array<JsonRpcMessage> = []
  channel.onMessage((m) => delivered.push(m))
  return { channel, reported, delivered, heard: server.heard }
}

const answersTo = (delivered: ReadonlyArray<JsonRpcMessage>, id: number) => delivered.filter((m) => "id" in m && m.id === id && !("method" in m))

describe("SdkMcpConnector over Streamable HTTP, with a server that primes and stores its event streams", () => {
  it("does not resume a stream its error answer ended: nothing is replayed, reported or delivered twice", async () => {
    const { channel, reported, delivered, heard } = await connected({ retryMs: 150 })
    await run(channel.send({ jsonrpc: "2.0", id: 1, method: "prompts/get", params: { name: "nope" } }))
    await expect.poll(() => answersTo(delivered, 1).length).toBe(1)
    // Answers stored after the error answer are what a resumption would replay, priming events among them.
    for (const id of [2, 3, 4]) await run(channel.send({ jsonrpc: "2.0", id, method: "ping" }))
    await expect.poll(() => answersTo(delivered, 4).length).toBe(1)
    await sleep(500)
    expect(heard.filter((h) => h.lastEventId !== null)).toEqual([])
    expect(reported).toEqual([])
    expect([1, 2, 3, 4].map((id) => answersTo(delivered, id).length)).toEqual([1, 1, 1, 1])
    await run(channel.close())
  })

  it("reports nothing when it closes the connection itself, its event streams still open", async () => {
    const { channel, reported, heard } = await connected({ retryMs: 1_000 })
    await run(channel.send({ jsonrpc: "2.0", method: "notifications/initialized" }))
    // The client opens the standalone stream once the server accepts the notification.
    await expect.poll(() => heard.filter((h) => h.method === "GET").length).toBe(1)
    await run(channel.close())
    await sleep(100)
    expect(reported).toEqual([])
  })

  it("reports events that are not JSON-RPC messages once per connection, briefly, without what they held", async () => {
    const secret = "sk-live-0123456789abcdef"
    const { channel, reported, delivered } = await connected({ retryMs: 1_000, extras: () => [1, 2, 3].map((n) => JSON.stringify({ n, token: secret })) })
    await run(channel.send({ jsonrpc: "2.0", id: 1, method: "ping" }))
    await run(channel.send({ jsonrpc: "2.0", id: 2, method: "ping" }))
    await expect.poll(() => answersTo(delivered, 2).length).toBe(1)
    await run(channel.close())
    // Six events that are not messages: one warning's worth, the rest flagged as repeats.
    expect(reported).toEqual([
      { kind: "not-json-rpc", detail: "the server sent an event that is not a JSON-RPC message", first: true },
      ...Array.from({ length: 5 }, () => ({ kind: "not-json-rpc", detail: "the server sent an event that is not a JSON-RPC message", first: false })),
    ])
    expect(JSON.stringify(reported)).not.toContain(secret.slice(0, 6))
  })
})
