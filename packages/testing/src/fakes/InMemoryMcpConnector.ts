/* oxlint-disable unicorn/prefer-add-event-listener -- the SDK's Transport has callback properties, not events */
import * as Effect from "effect/Effect"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import { z } from "zod"
import { McpConnectFailed, type JsonRpcMessage, type McpChannel, type McpConnector, type McpTarget, type MessageContext } from "@dtma/domain"

/** What serves one connection: an SDK `McpServer` (2025-era), or a `ModernMcpServer` (2026-07-28 only). */
export interface ServesMcp {
  connect(transport: Transport): Promise<void>
  close(): Promise<void>
}

/** Makes a fresh server for one connection (an `McpServer` serves one transport at a time). */
export type McpServerFactory = () => ServesMcp

/** A small real MCP server: one tool, `echo`, that answers its `text`. */
export const echoMcpServer = (): McpServer => {
  const server = new McpServer({ name: "dtma-echo", version: "1.0.0" })
  server.registerTool("echo", { description: "Answers its text.", inputSchema: { text: z.string() } }, ({ text }) => ({ content: [{ type: "text", text }] }))
  return server
}

// Messages cross as JSON, as on a real wire: no object is shared between the two ends.
const wire = <A>(message: unknown): A => JSON.parse(JSON.stringify(message)) as A

/**
 * A stateful stand-in for `SdkMcpConnector`: targets are looked up by container id in a registry
 * of in-process MCP servers (linked by the SDK's `InMemoryTransport`), with the real adapter's
 * observable behaviour: no handshake, `onClose` once, `closed` sends, and `unreachable`/`timeout`
 * failures within the time allowed. Each connection gets a fresh server from the factory. To a
 * `streamable_http` target it separates requests as that transport does: a notification or request
 * the server sends about a request (the SDK's `relatedRequestId`) comes with that request's id.
 */
export class InMemoryMcpConnector implements McpConnector {
  readonly #servers = new Map<string, McpServerFactory>()
  readonly #unreachable = new Set<string>()
  readonly #delays = new Map<string, number>()
  readonly #live = new Map<string, Set<(reason: string) => Promise<void>>>()
  readonly #hung = new Map<string, Array<() => Promise<void>>>()
  /** Every connect call, in order. */
  readonly connects: Array<McpTarget> = []

  /** Serves the container's MCP server with servers from `factory`. */
  register(containerId: string, factory: McpServerFactory = echoMcpServer): void {
    this.#servers.set(containerId, factory)
    this.#unreachable.delete(containerId)
  }

  /** Connecting fails `unreachable` (as when nothing listens) until `register` is called again. */
  makeUnreachable(containerId: string): void {
    this.#unreachable.add(containerId)
  }

  /** The server takes `delayMs` to accept a connection (0 to undo); a connect allowed less time fails `timeout`. */
  makeSlow(containerId: string, delayMs: number): void {
    this.#delays.set(containerId, delayMs)
  }

  /** The server goes away: every open channel to it closes with `reason`. */
  async crash(containerId: string, reason = "the server exited"): Promise<void> {
    await Promise.all([...(this.#live.get(containerId) ?? [])].map((end) => end(reason)))
  }

  /** The server stops reading (its process froze): what is sent to it waits, unanswered, until `resume`. */
  hang(containerId: string): void {
    if (!this.#hung.has(containerId)) this.#hung.set(containerId, [])
  }

  /** The server reads again, starting with what was held (sends on channels closed meanwhile are lost). */
  async resume(containerId: string): Promise<void> {
    const held = this.#hung.get(containerId) ?? []
    this.#hung.delete(containerId)
    for (const deliver of held) await deliver().catch(() => undefined)
  }

  /** How many channels to the container are open. */
  openChannels(containerId: string): number {
    return this.#live.get(containerId)?.size ?? 0
  }

  connect(target: McpTarget, options: { readonly timeoutMs: number }): Effect.Effect<McpChannel, McpConnectFailed> {
    return Effect.suspend(() => {
      this.connects.push(target)
      const delay = this.#delays.get(target.containerId) ?? 0
      if (delay < options.timeoutMs) return Effect.sleep(delay).pipe(Effect.andThen(() => this.#reach(target)))
      const late = new McpConnectFailed({ reason: "timeout", detail: `${target.containerId} did not accept a connection in time` })
      return Effect.sleep(options.timeoutMs).pipe(Effect.andThen(Effect.fail(late)))
    })
  }

  #reach(target: McpTarget): Effect.Effect<McpChannel, McpConnectFailed> {
    const { containerId } = target
    const factory = this.#servers.get(containerId)
    if (factory === undefined || this.#unreachable.has(containerId)) {
      return Effect.fail(new McpConnectFailed({ reason: "unreachable", detail: `nothing serves MCP for ${containerId}` }))
    }
    return Effect.promise(() => this.#open(containerId, factory, target.transport === "streamable_http"))
  }

  async #open(containerId: string, factory: McpServerFactory, separatesRequests: boolean): Promise<McpChannel> {
    const [client, serverSide] = InMemoryTransport.createLinkedPair()
    const server = factory()
    // The in-memory pair delivers within `send`: what the server's send says of a message is known as the client side receives it.
    let related: MessageContext = {}
    const serverSend = serverSide.send.bind(serverSide)
    serverSide.send = async (message, options) => {
      const id = options?.relatedRequestId
      related = separatesRequests && id !== undefined && "method" in message ? { relatedRequestId: id } : {}
      try {
        await serverSend(message, options)
      } finally {
        related = {}
      }
    }
    await server.connect(serverSide)
    let receiver: ((m: JsonRpcMessage, context: MessageContext) => void) | null = null
    const early: Array<readonly [JsonRpcMessage, MessageContext]> = []
    let closeHandler: ((reason: string) => void) | null = null
    let closedBecause: string | null = null
    let ending: string | null = null
    const live = this.#live.get(containerId) ?? new Set()
    this.#live.set(containerId, live)

    const end = async (reason: string): Promise<void> => {
      if (closedBecause !== null || ending !== null) return
      ending = reason
      await server.close()
    }
    live.add(end)
    client.onmessage = (message) => {
      const m = wire<JsonRpcMessage>(message)
      const context = related
      if (receiver === null) early.push([m, context])
      else receiver(m, context)
    }
    client.onclose = () => {
      if (closedBecause !== null) return
      live.delete(end)
      closedBecause = ending ?? "the connection to the server closed"
      closeHandler?.(closedBecause)
    }
    await client.start()
    return {
      separatesRequests,
      send: (message) =>
        closedBecause !== null || ending !== null
          ? Effect.fail(new McpConnectFailed({ reason: "closed", detail: closedBecause ?? ending ?? "" }))
          : Effect.promise(() => {
              const deliver = () => client.send(wire<JSONRPCMessage>(message))
              const held = this.#hung.get(containerId)
              if (held === undefined) return deliver()
              held.push(deliver)
              return Promise.resolve()
            }),
      onMessage: (handler) => {
        receiver = handler
        for (const [m, context] of early.splice(0)) handler(m, context)
      },
      onClose: (handler) => {
        closeHandler = handler
        if (closedBecause !== null) handler(closedBecause)
      },
      close: () => Effect.promise(() => end("closed by the DTMA")),
    }
  }
}
