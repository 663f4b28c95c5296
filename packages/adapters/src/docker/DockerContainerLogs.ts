import Dockerode from "dockerode"
import { Duration, Effect } from "effect"
import { RuntimeUnavailable, type ContainerLogs, type LogLine } from "@dtma/domain"
import { dockerApiOf, type DockerApi } from "./DockerApi.ts"
import { notFoundOr } from "./dockerErrors.ts"
import { makeLineSplitter, type LineSplitter } from "./lineSplitter.ts"
import { makeDemuxer } from "./multiplexedStream.ts"

/** Bounds on a logs request. */
export interface DockerContainerLogsOptions {
  /** How long Docker may take to answer; default 30 s. */
  readonly requestTimeoutMs?: number
  /** Longer lines are cut off at this many bytes; default 64 KiB. */
  readonly maxLineBytes?: number
}

/**
 * The lines of a multiplexed log (what Docker sends for a `Tty: false` container), oldest first. A
 * line longer than `maxLineBytes` is replaced by a note saying so.
 */
export const logLinesOf = (log: Buffer, maxLineBytes: number): ReadonlyArray<LogLine> => {
  const lines: Array<LogLine> = []
  const splitters: Record<LogLine["stream"], LineSplitter> = {
    stdout: makeLineSplitter({ maxLineBytes }),
    stderr: makeLineSplitter({ maxLineBytes }),
  }
  const collect = (stream: LogLine["stream"], events: ReturnType<LineSplitter["push"]>) => {
    for (const e of events) lines.push({ stream, text: e._tag === "Line" ? e.text : `[line longer than ${e.maxLineBytes} bytes left out]` })
  }
  for (const piece of makeDemuxer().push(log)) {
    if (piece.stream === "stdout" || piece.stream === "stderr") collect(piece.stream, splitters[piece.stream].push(piece.payload))
  }
  collect("stdout", splitters.stdout.end())
  collect("stderr", splitters.stderr.end())
  return lines
}

/** The `ContainerLogs` over Docker's log endpoint (not followed). */
export const makeDockerContainerLogs = (api: DockerApi, options: DockerContainerLogsOptions = {}): ContainerLogs => {
  const timeoutMs = options.requestTimeoutMs ?? 30_000
  const maxLineBytes = options.maxLineBytes ?? 64 * 1024
  return {
    tail: (containerId, { lines, streams }) =>
      Effect.tryPromise({
        try: (signal: AbortSignal) => api.containerLogs(containerId, { stdout: streams === "all", stderr: true, tail: Math.max(0, lines) }, signal),
        catch: notFoundOr("inspect", containerId),
      }).pipe(
        Effect.timeoutOrElse({
          duration: Duration.millis(timeoutMs),
          orElse: () => Effect.fail(new RuntimeUnavailable({ detail: `Docker did not answer a logs request within ${timeoutMs} ms` })),
        }),
        // Docker counts lines itself; the slice keeps the promise when a line spans frames.
        Effect.map((log) => (lines <= 0 ? [] : logLinesOf(log, maxLineBytes).slice(-lines))),
      ),
  }
}

/** Over the Docker daemon dockerode finds by default (`DOCKER_HOST`, else the local socket). */
export const dockerContainerLogsFromEnv = (options: DockerContainerLogsOptions = {}): ContainerLogs =>
  makeDockerContainerLogs(dockerApiOf(new Dockerode()), options)
