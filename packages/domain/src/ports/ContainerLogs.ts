import type * as Effect from "effect/Effect"
import type { ContainerNotFound } from "../errors.ts"
import type { RuntimeFailure } from "./ContainerRuntime.ts"
import { token, type Token } from "../Token.ts"

export interface LogLine {
  readonly stream: "stdout" | "stderr"
  readonly text: string
}

/**
 * What a container wrote, as far as it was kept: an adapter may keep only the newest part, and only
 * what was written since it started following the container.
 */
export interface ContainerLogs {
  /**
   * The last `lines` lines, oldest first, of the chosen streams. For a stdio MCP server stdout is
   * the protocol, so callers ask for `stderr` only.
   */
  tail(
    containerId: string,
    options: { readonly lines: number; readonly streams: "stderr" | "all" },
  ): Effect.Effect<ReadonlyArray<LogLine>, ContainerNotFound | RuntimeFailure>
}

export const ContainerLogs: Token<ContainerLogs> = token("dtma/ContainerLogs")
