import * as Effect from "effect/Effect"
import { ContainerNotFound, RuntimeUnavailable, type ContainerLogs, type LogLine, type RuntimeFailure } from "@dtma/domain"

/**
 * A stateful stand-in for a runtime's container logs: lines appended per container, read back like
 * Docker's tail (the last lines of the chosen streams, oldest first). Unknown containers are not
 * found; `daemonDown` makes every read fail as an unreachable runtime does.
 */
export class InMemoryContainerLogs implements ContainerLogs {
  readonly #logs = new Map<string, Array<LogLine>>()
  daemonDown = false

  /** The container exists (with an empty log if it had none). */
  addContainer(containerId: string): void {
    if (!this.#logs.has(containerId)) this.#logs.set(containerId, [])
  }

  /** The container wrote `text` on `stream`: one line per `\n`-separated part. */
  append(containerId: string, stream: LogLine["stream"], text: string): void {
    this.addContainer(containerId)
    const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n")
    this.#logs.get(containerId)?.push(...lines.map((line) => ({ stream, text: line })))
  }

  /** The container and its log are gone. */
  removeContainer(containerId: string): void {
    this.#logs.delete(containerId)
  }

  tail(
    containerId: string,
    options: { readonly lines: number; readonly streams: "stderr" | "all" },
  ): Effect.Effect<ReadonlyArray<LogLine>, ContainerNotFound | RuntimeFailure> {
    return Effect.suspend((): Effect.Effect<ReadonlyArray<LogLine>, ContainerNotFound | RuntimeFailure> => {
      if (this.daemonDown) return Effect.fail(new RuntimeUnavailable({ detail: "connect ECONNREFUSED /var/run/docker.sock" }))
      const log = this.#logs.get(containerId)
      if (log === undefined) return Effect.fail(new ContainerNotFound({ containerId }))
      const chosen = options.streams === "all" ? log : log.filter((l) => l.stream === "stderr")
      return Effect.succeed(options.lines <= 0 ? [] : chosen.slice(-options.lines))
    })
  }
}
