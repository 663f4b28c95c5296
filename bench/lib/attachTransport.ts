/* oxlint-disable unicorn/prefer-add-event-listener -- the SDK's Transport has callback properties, not events */
import { PassThrough, type Duplex } from "node:stream"
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import { docker } from "./docker.ts"

/**
 * The bench's own MCP transport over a Docker attach stream (stdout demultiplexed, newline-delimited
 * JSON-RPC): the direct path to a stdio server, with no DTMA code in it.
 */
export class AttachTransport implements Transport {
  onclose?: (() => void) | undefined
  onerror?: ((error: Error) => void) | undefined
  onmessage?: ((message: JSONRPCMessage) => void) | undefined
  readonly #stream: Duplex
  readonly #buffer = new ReadBuffer()

  constructor(stream: Duplex) {
    this.#stream = stream
  }

  async start(): Promise<void> {
    const stdout = new PassThrough()
    docker.modem.demuxStream(this.#stream, stdout, new PassThrough().resume())
    stdout.on("data", (chunk: Buffer) => {
      this.#buffer.append(chunk)
      for (;;) {
        let message: JSONRPCMessage | null
        try {
          message = this.#buffer.readMessage()
        } catch (error) {
          this.onerror?.(error as Error)
          continue
        }
        if (message === null) break
        this.onmessage?.(message)
      }
    })
    this.#stream.on("close", () => this.onclose?.())
    this.#stream.on("error", (error: Error) => this.onerror?.(error))
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => this.#stream.write(serializeMessage(message), (e) => (e ? reject(e) : resolve())))
  }

  async close(): Promise<void> {
    this.#stream.destroy()
  }
}

/** Attaches to the stdio of container `id` (before it starts, so nothing it writes is missed). */
export const attachStdio = async (id: string): Promise<AttachTransport> => {
  const stream = (await docker.getContainer(id).attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex
  return new AttachTransport(stream)
}
