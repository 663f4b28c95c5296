import * as Effect from "effect/Effect"
import type { ContainerLogs } from "../ports/ContainerLogs.ts"
import type { ContainerRuntime } from "../ports/ContainerRuntime.ts"
import { maskSecrets, secretValuesOf } from "../redaction.ts"

export interface ServerOutputDeps {
  readonly runtime: ContainerRuntime
  readonly logs: ContainerLogs
  /** Secrets a container holds besides its environment (its OAuth tokens), to mask in what it prints. */
  readonly secretsOf: (containerId: string) => Effect.Effect<ReadonlyArray<string>>
}

/** What MCP servers print, as the DTMA shows it: every value a server was given as a possible secret masked. */
export const makeServerOutput = (deps: ServerOutputDeps) => {
  const { runtime, logs } = deps

  /** The last `lines` lines: stderr for stdio (stdout is the protocol), everything for network transports. */
  const maskedLogs = (containerId: string, lines: number, transport: string) =>
    Effect.all([
      logs.tail(containerId, { lines, streams: transport === "stdio" ? "stderr" : "all" }),
      runtime.environmentOf(containerId).pipe(Effect.map(secretValuesOf), Effect.orElseSucceed(() => [] as ReadonlyArray<string>)),
      deps.secretsOf(containerId),
    ]).pipe(Effect.map(([found, env, tokens]) => found.map((l) => ({ stream: l.stream, text: maskSecrets(l.text, [...env, ...tokens]) }))))

  /** The last lines a failed start printed, for its error; empty when they cannot be had. */
  const stderrTail = (containerId: string, transport: string) =>
    maskedLogs(containerId, 20, transport).pipe(
      Effect.map((lines) => lines.map((l) => l.text)),
      Effect.orElseSucceed(() => [] as ReadonlyArray<string>),
    )

  return { maskedLogs, stderrTail }
}

export type ServerOutput = ReturnType<typeof makeServerOutput>
