import * as Effect from "effect/Effect"
import type { ManagedContainer } from "../ManagedInstance.ts"
import { McpServerNotReady } from "../mcp/mcpErrors.ts"
import type { ContainerLogs } from "../ports/ContainerLogs.ts"
import type { ContainerRuntime } from "../ports/ContainerRuntime.ts"
import { maskerOf, secretValuesOf } from "../redaction.ts"

export interface ServerOutputDeps {
  readonly runtime: ContainerRuntime
  readonly logs: ContainerLogs
  /** Secrets a container holds besides its environment (its OAuth tokens), to mask in what it prints. */
  readonly secretsOf: (containerId: string) => Effect.Effect<ReadonlyArray<string>>
}

/**
 * What MCP servers print, and what their failures say, as the DTMA shows them: every value a server
 * was given as a possible secret masked (each line of a multi-line one too).
 */
export const makeServerOutput = (deps: ServerOutputDeps) => {
  const { runtime, logs } = deps

  /** Masks every value the container was given, and its OAuth tokens (those it can still read). */
  const maskerFor = (containerId: string) =>
    Effect.all([
      runtime.environmentOf(containerId).pipe(
        Effect.map(secretValuesOf),
        Effect.orElseSucceed(() => [] as ReadonlyArray<string>),
      ),
      deps.secretsOf(containerId),
    ]).pipe(Effect.map(([env, tokens]) => maskerOf([...env, ...tokens])))

  // Stdout is a stdio server's protocol: only its stderr is output.
  const streamsOf = (container: ManagedContainer) => ((container.mcp?.transport ?? "stdio") === "stdio" ? "stderr" : "all")

  /** The last `lines` lines the container wrote, masked. */
  const maskedLogs = (container: ManagedContainer, lines: number) =>
    Effect.all([logs.tail(container.containerId, { lines, streams: streamsOf(container) }), maskerFor(container.containerId)]).pipe(
      Effect.map(([found, mask]) => found.map((l) => ({ stream: l.stream, text: mask(l.text) }))),
    )

  /**
   * The container did not become ready: why, with the last lines it wrote. Both are masked: a
   * connection's error can carry what the server answered (an HTTP error body). Read it before the
   * container goes.
   */
  const notReady = (name: string, container: ManagedContainer, detail: string) =>
    Effect.all([
      logs.tail(container.containerId, { lines: 20, streams: streamsOf(container) }).pipe(Effect.orElseSucceed(() => [])),
      maskerFor(container.containerId),
    ]).pipe(Effect.map(([tail, mask]) => new McpServerNotReady({ name, detail: mask(detail), stderrTail: tail.map((l) => mask(l.text)) })))

  /** `reason` with the container's secrets masked: what a server answered can end up in it. */
  const masked = (containerId: string, reason: string) => maskerFor(containerId).pipe(Effect.map((mask) => mask(reason)))

  return { maskedLogs, notReady, masked }
}

export type ServerOutput = ReturnType<typeof makeServerOutput>
