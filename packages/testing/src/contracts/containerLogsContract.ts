import { describe, expect, it } from "vitest"
import type { ContainerLogs, LogLine } from "@dtma/domain"
import { failureOf, run } from "../effects.ts"
import { freshSubject } from "./freshSubject.ts"

/** Logs under test, and a way to have a container write lines. */
export interface ContainerLogsSubject {
  readonly logs: ContainerLogs
  /**
   * A container of `kind` that wrote these lines, in this order, whole (each ends in a newline);
   * resolves once all of them can be read. A `stdio` container's stdout is its protocol.
   */
  containerThatWrote(kind: "stdio" | "network", lines: ReadonlyArray<LogLine>): Promise<string>
  /** An id no container has. */
  readonly absentId: string
  readonly cleanup?: () => Promise<void>
}

const shown = (lines: ReadonlyArray<LogLine>) => lines.map((l) => `${l.stream}:${l.text}`)

/** Behaviour every ContainerLogs must have; run on the fake and on the Docker output capture. */
export const containerLogsContract = (label: string, setup: () => Promise<ContainerLogsSubject>, options: { readonly timeoutMs?: number } = {}): void => {
  describe(`ContainerLogs contract: ${label}`, () => {
    const withSubject = freshSubject(setup)
    const timeout = options.timeoutMs

    it(
      "gives a network server's last lines of both streams, oldest first, in the order written",
      withSubject(async (s) => {
        const id = await s.containerThatWrote("network", [
          { stream: "stderr", text: "starting" },
          { stream: "stdout", text: "listening on 3001" },
          { stream: "stderr", text: "ready, héllo" },
        ])
        expect(shown(await run(s.logs.tail(id, { lines: 10, streams: "all" })))).toEqual(["stderr:starting", "stdout:listening on 3001", "stderr:ready, héllo"])
        expect(shown(await run(s.logs.tail(id, { lines: 2, streams: "all" })))).toEqual(["stdout:listening on 3001", "stderr:ready, héllo"])
        expect(shown(await run(s.logs.tail(id, { lines: 10, streams: "stderr" })))).toEqual(["stderr:starting", "stderr:ready, héllo"])
        expect(await run(s.logs.tail(id, { lines: 0, streams: "all" }))).toEqual([])
      }),
      timeout,
    )

    it(
      "gives a stdio server's stderr, never its protocol",
      withSubject(async (s) => {
        const id = await s.containerThatWrote("stdio", [
          { stream: "stderr", text: "server running on stdio" },
          { stream: "stdout", text: '{"jsonrpc":"2.0","id":1,"result":{}}' },
          { stream: "stderr", text: "bye" },
        ])
        expect(shown(await run(s.logs.tail(id, { lines: 10, streams: "stderr" })))).toEqual(["stderr:server running on stdio", "stderr:bye"])
      }),
      timeout,
    )

    it(
      "reports an absent container as not found",
      withSubject(async (s) => {
        expect(await failureOf(s.logs.tail(s.absentId, { lines: 5, streams: "stderr" }))).toMatchObject({ _tag: "ContainerNotFound" })
      }),
      timeout,
    )
  })
}
