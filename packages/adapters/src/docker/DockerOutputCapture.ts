import { newDockerode } from "./newDockerode.ts"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { RuntimeUnavailable, type ContainerLogs, type ContainerNotFound, type LogLine, type RuntimeFailure } from "@dtma/domain"
import { dockerApiOf, type DockerApi } from "./DockerApi.ts"
import { notFoundOr } from "./dockerErrors.ts"
import { makeLineSplitter, type LineSplitter } from "./lineSplitter.ts"
import { makeDemuxer } from "./multiplexedStream.ts"

/** Which of a container's streams to keep: a stdio MCP server's stdout is the protocol, not output. */
export type CapturedStreams = "stderr" | "all"

/** Bounds of what is kept. */
export interface DockerOutputCaptureOptions {
  /** Output kept per container, in bytes; the oldest goes first. Default 256 KiB. */
  readonly maxBytesPerContainer?: number
  /** Longer lines are read back as a note saying so; default 64 KiB. */
  readonly maxLineBytes?: number
  /** How long Docker may take to answer an attach or an inspect; default 30 s. */
  readonly requestTimeoutMs?: number
  /** An attachment that failed, for the log. */
  readonly onError?: (containerId: string, error: unknown) => void
}

/**
 * What a container writes, held in the DTMA's memory instead of Docker's log files: the containers
 * it is used for run with the `none` log driver, so their output (a stdio server's tool results among
 * it, tokens a server prints among them) never reaches the disk. The runtime starts following a
 * container before starting it, and again whenever it sees it running unfollowed (adopted after a
 * DTMA restart, restarted by someone else); what was written while nobody followed is not kept.
 */
export interface DockerOutputCapture {
  /** Keeps what the container writes from now on; resolves once attached (or the attach failed). Idempotent. */
  follow(containerId: string, streams: CapturedStreams): Promise<void>
  /** Forgets the container and what it wrote (it was removed). */
  drop(containerId: string): void
  /** What was kept, as `ContainerLogs` reads it; a container never followed has an empty log. */
  readonly logs: ContainerLogs
}

interface Piece {
  readonly stream: LogLine["stream"]
  readonly payload: Buffer
}

/** One container's kept output: pieces in arrival order, `head` the first one still kept. */
interface Kept {
  pieces: Array<Piece>
  head: number
  bytes: number
  /** Per stream, whether dropping old output cut a line, so that the first line left is a fragment. */
  readonly cut: Record<LogLine["stream"], boolean>
  /** Per stream, whether the newest kept byte is not a newline: a line is still being written. */
  readonly unterminated: Record<LogLine["stream"], boolean>
  /** The attachment being made or held; null once it ended. */
  attached: Promise<void> | null
  readonly controller: AbortController
}

const NEWLINE = 0x0a
const LINE_END = Buffer.from("\n")
const COMPACT_AFTER = 1024

/** Drops the oldest output until at most `max` bytes are kept, noting which streams were cut mid-line. */
const trim = (kept: Kept, max: number): void => {
  while (kept.bytes > max) {
    const first = kept.pieces[kept.head]
    if (first === undefined) break
    const excess = kept.bytes - max
    if (first.payload.length <= excess) {
      kept.cut[first.stream] = first.payload.at(-1) !== NEWLINE
      kept.bytes -= first.payload.length
      kept.head += 1
    } else {
      kept.cut[first.stream] = first.payload[excess - 1] !== NEWLINE
      kept.pieces[kept.head] = { stream: first.stream, payload: first.payload.subarray(excess) }
      kept.bytes -= excess
    }
  }
  if (kept.head > COMPACT_AFTER && kept.head * 2 > kept.pieces.length) {
    kept.pieces = kept.pieces.slice(kept.head)
    kept.head = 0
  }
}

/**
 * The kept lines, oldest first, a cut first line of a stream left out. A line counts from when its
 * newline arrived (or the attachment ended): a line still being written is not read, so that a secret
 * split across two writes is never shown by halves, where masking cannot know it.
 */
const linesOf = (kept: Kept, maxLineBytes: number): ReadonlyArray<LogLine> => {
  const lines: Array<LogLine> = []
  const splitters: Record<LogLine["stream"], LineSplitter> = {
    stdout: makeLineSplitter({ maxLineBytes }),
    stderr: makeLineSplitter({ maxLineBytes }),
  }
  const skip = { ...kept.cut }
  const collect = (stream: LogLine["stream"], events: ReturnType<LineSplitter["push"]>) => {
    for (const e of events) {
      if (skip[stream]) {
        skip[stream] = false
        continue
      }
      lines.push({ stream, text: e._tag === "Line" ? e.text : `[line longer than ${e.maxLineBytes} bytes left out]` })
    }
  }
  for (let i = kept.head; i < kept.pieces.length; i++) {
    const piece = kept.pieces[i]
    if (piece !== undefined) collect(piece.stream, splitters[piece.stream].push(piece.payload))
  }
  return lines
}

/** The output capture over Docker attach streams (no stdin: they only listen). */
export const makeDockerOutputCapture = (api: DockerApi, options: DockerOutputCaptureOptions = {}): DockerOutputCapture => {
  const maxBytes = options.maxBytesPerContainer ?? 256 * 1024
  const maxLineBytes = options.maxLineBytes ?? 64 * 1024
  const timeoutMs = options.requestTimeoutMs ?? 30_000
  const kept = new Map<string, Kept>()

  const keptOf = (containerId: string): Kept => {
    let k = kept.get(containerId)
    if (k === undefined) {
      k = {
        pieces: [],
        head: 0,
        bytes: 0,
        cut: { stdout: false, stderr: false },
        unterminated: { stdout: false, stderr: false },
        attached: null,
        controller: new AbortController(),
      }
      kept.set(containerId, k)
    }
    return k
  }

  const attach = async (containerId: string, k: Kept, streams: CapturedStreams): Promise<void> => {
    const demuxer = makeDemuxer()
    // The deadline bounds only the attaching: the attachment itself lasts as long as the container runs.
    const attaching = new AbortController()
    const timer = setTimeout(() => attaching.abort(new Error(`Docker did not answer an attach request within ${timeoutMs} ms`)), timeoutMs)
    const onDrop = () => attaching.abort()
    k.controller.signal.addEventListener("abort", onDrop, { once: true })
    const ended = () => {
      k.controller.signal.removeEventListener("abort", onDrop)
      // What the container wrote last, without a newline, is all it wrote of that line: a line now.
      for (const stream of ["stdout", "stderr"] as const) {
        if (!k.unterminated[stream]) continue
        k.unterminated[stream] = false
        k.pieces.push({ stream, payload: LINE_END })
        k.bytes += LINE_END.length
      }
      trim(k, maxBytes)
      if (kept.get(containerId) === k) k.attached = null
    }
    try {
      const stream = await api.attachOutput(containerId, streams, attaching.signal)
      if (attaching.signal.aborted) {
        stream.destroy()
        ended()
        return
      }
      stream.on("data", (chunk: Buffer) => {
        for (const piece of demuxer.push(chunk)) {
          if (piece.stream !== "stdout" && piece.stream !== "stderr") continue
          // A view of Docker's chunk, not a copy: the kept pieces are the newest bytes, so they hold
          // at most one chunk beyond the bound alive, and a flood makes half the garbage.
          if (piece.payload.length === 0) continue
          k.pieces.push({ stream: piece.stream, payload: piece.payload })
          k.bytes += piece.payload.length
          k.unterminated[piece.stream] = piece.payload.at(-1) !== NEWLINE
        }
        trim(k, maxBytes)
      })
      stream.on("error", ended)
      stream.on("close", ended)
      stream.on("end", ended)
      attaching.signal.addEventListener("abort", () => stream.destroy(), { once: true })
    } catch (error) {
      ended()
      if (!k.controller.signal.aborted) options.onError?.(containerId, error)
    } finally {
      clearTimeout(timer)
    }
  }

  const follow: DockerOutputCapture["follow"] = (containerId, streams) => {
    const k = keptOf(containerId)
    k.attached ??= attach(containerId, k, streams)
    return k.attached
  }

  const drop: DockerOutputCapture["drop"] = (containerId) => {
    kept.get(containerId)?.controller.abort()
    kept.delete(containerId)
  }

  const logs: ContainerLogs = {
    tail: (containerId, { lines, streams }) => {
      const k = kept.get(containerId)
      // Never followed: nothing kept, if the container exists at all.
      const known: Effect.Effect<Kept | null, ContainerNotFound | RuntimeFailure> =
        k !== undefined
          ? Effect.succeed(k)
          : Effect.tryPromise({ try: (signal: AbortSignal) => api.inspectContainer(containerId, signal), catch: notFoundOr("inspect", containerId) }).pipe(
              Effect.timeoutOrElse({
                duration: Duration.millis(timeoutMs),
                orElse: () => Effect.fail(new RuntimeUnavailable({ detail: `Docker did not answer an inspect request within ${timeoutMs} ms` })),
              }),
              Effect.as(null),
            )
      return known.pipe(
        Effect.map((found) => {
          if (found === null || lines <= 0) return []
          const all = linesOf(found, maxLineBytes)
          return (streams === "all" ? all : all.filter((l) => l.stream === "stderr")).slice(-lines)
        }),
      )
    },
  }

  return { follow, drop, logs }
}

/** Over the Docker daemon dockerode finds by default (`DOCKER_HOST`, else the local socket). */
export const dockerOutputCaptureFromEnv = (options: DockerOutputCaptureOptions = {}): DockerOutputCapture =>
  makeDockerOutputCapture(dockerApiOf(newDockerode()), options)
