import type { Duplex } from "node:stream"
import { serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import { makeLineSplitter } from "../docker/lineSplitter.ts"
import { makeDemuxer } from "../docker/multiplexedStream.ts"
import { parseMessageLine } from "./jsonRpcMessages.ts"

/** Tuning of the stdio transport. */
export interface AttachStdioTransportOptions {
  /** The longest line kept; a longer one is dropped and reported. Default 10 MiB, as the SDK's stdio. */
  readonly maxLineBytes?: number
  /** How long `close` lets queued writes drain before it drops the connection; default 1 s. */
  readonly closeGraceMs?: number
}

/**
 * What the server wrote that was not a message: a bad line (skipped), or a line over the bound. An
 * oversized line is `lost`: it was most likely an answer, which will never be delivered, so the
 * connection should end rather than leave its caller waiting.
 */
export class StdioFramingError extends Error {
  override readonly name = "StdioFramingError"
  readonly kind: "not-json" | "not-json-rpc" | "oversized-line"
  readonly lost: boolean

  constructor(message: string, kind: StdioFramingError["kind"]) {
    super(message)
    this.kind = kind
    this.lost = kind === "oversized-line"
  }
}

/**
 * An MCP SDK `Transport` over a Docker attach stream of a `Tty: false` container: stdout is
 * demultiplexed and read as newline-delimited JSON-RPC, holding at most `maxLineBytes` of a line;
 * stderr is ignored (the runtime's log keeps it; the attach does not even ask for it), and messages
 * are written to stdin. `close` ends only this attachment: the container's stdin stays open (it was
 * created without `StdinOnce`), so the server sees no EOF and a new attach works.
 */
export class AttachStdioTransport implements Transport {
  onclose?: (() => void) | undefined
  onerror?: ((error: Error) => void) | undefined
  onmessage?: ((message: JSONRPCMessage) => void) | undefined

  readonly #stream: Duplex
  readonly #closeGraceMs: number
  readonly #demuxer = makeDemuxer()
  readonly #lines
  #started = false
  #closed = false
  /** The lines sent in this turn of the event loop, not yet written, and who waits for each. */
  #batch = ""
  #waiting: Array<{ readonly resolve: () => void; readonly reject: (error: Error) => void }> = []

  constructor(stream: Duplex, options: AttachStdioTransportOptions = {}) {
    this.#stream = stream
    this.#closeGraceMs = options.closeGraceMs ?? 1_000
    this.#lines = makeLineSplitter({ maxLineBytes: options.maxLineBytes ?? 10 * 1024 * 1024 })
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error("AttachStdioTransport already started")
    this.#started = true
    const stream = this.#stream
    stream.on("data", (chunk: Buffer) => this.#read(chunk))
    stream.on("error", (error: Error) => {
      this.onerror?.(error)
      this.#finish()
    })
    // The container exited or Docker dropped the attachment: nothing more will come.
    stream.on("end", () => void this.close())
    stream.on("close", () => this.#finish())
    if (stream.destroyed || stream.readableEnded) void this.close()
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("the attach stream is closed"))
    return new Promise((resolve, reject) => {
      const line = serializeMessage(message)
      if (this.#waiting.length === 0) setImmediate(() => this.#flush())
      this.#batch += line
      this.#waiting.push({ resolve, reject })
    })
  }

  async close(): Promise<void> {
    const stream = this.#stream
    this.#finish()
    // What was sent before the close goes first.
    this.#flush()
    if (stream.destroyed || stream.writableEnded) return
    // Let queued writes reach the container, then drop the connection: ending only the write side
    // would leave Docker holding the attachment open.
    const timer = setTimeout(() => stream.destroy(), this.#closeGraceMs).unref()
    stream.end(() => {
      clearTimeout(timer)
      stream.destroy()
    })
  }

  /**
   * Writes the lines sent in this turn of the event loop, right after it, as one string in one
   * write, in the order sent: one wake-up of the Docker daemon and of the server for all the
   * requests of clients that asked at the same time (every write wakes processes; on a small
   * machine that is what costs), and one entry in the stream's buffer rather than one per message.
   */
  #flush(): void {
    const waiting = this.#waiting
    if (waiting.length === 0) return
    const text = this.#batch
    this.#batch = ""
    this.#waiting = []
    this.#stream.write(text, (error) => {
      for (const w of waiting) {
        if (error) w.reject(error)
        else w.resolve()
      }
    })
  }

  #read(chunk: Buffer): void {
    for (const piece of this.#demuxer.push(chunk)) {
      if (piece.stream !== "stdout") continue
      for (const event of this.#lines.push(piece.payload)) {
        if (event._tag === "Oversized") {
          this.onerror?.(new StdioFramingError(`the server wrote a stdout line longer than ${event.maxLineBytes} bytes; it was dropped`, "oversized-line"))
        } else if (event.text.trim() !== "") {
          this.#deliver(event.text)
        }
      }
    }
  }

  #deliver(line: string): void {
    let message: JSONRPCMessage
    try {
      message = parseMessageLine(line)
    } catch (error) {
      // Neither the line nor the parser's words about it (which quote it) are repeated: they go to the
      // DTMA's log, and a server can print anything on stdout, the secrets it was given among it.
      const notJson = error instanceof SyntaxError
      const what = notJson ? "is not JSON" : "is JSON but not a JSON-RPC message"
      this.onerror?.(new StdioFramingError(`skipped a stdout line of ${Buffer.byteLength(line)} bytes that ${what}`, notJson ? "not-json" : "not-json-rpc"))
      return
    }
    this.onmessage?.(message)
  }

  #finish(): void {
    if (this.#closed) return
    this.#closed = true
    this.onclose?.()
  }
}
