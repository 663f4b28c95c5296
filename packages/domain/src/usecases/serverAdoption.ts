import * as Effect from "effect/Effect"
import { firstStep } from "../mcp/serverStateMachine.ts"
import type { ContainerEvent } from "../ports/ContainerEvents.ts"
import type { RuntimeFailure } from "../ports/ContainerRuntime.ts"
import type { Instances } from "./Instances.ts"
import type { IsolatedInstances } from "./IsolatedInstances.ts"
import type { McpCredentialFlow } from "./mcpCredentials.ts"
import type { Interpreter } from "./serverInterpreter.ts"
import type { ServerMailboxes } from "./serverMailboxes.ts"

export interface ServerAdoptionDeps extends ServerMailboxes {
  readonly interpreter: Pick<Interpreter, "begin" | "offer">
  readonly instances: Instances
  readonly flow: McpCredentialFlow
  readonly isolated: Pick<IsolatedInstances, "adopt">
}

/**
 * What the runtime says about the servers' containers: the ones found at start-up, taken over
 * (`adopt`), and their events while the DTMA runs, each queued in its server's mailbox.
 */
export const makeServerAdoption = (deps: ServerAdoptionDeps) => {
  const { mailboxes, request, interpreter, instances, flow, isolated } = deps

  /** Takes over every MCP server container found at start-up (after `Instances.reconcile`), then the agents' instances. */
  const adopt = (): Effect.Effect<ReadonlyArray<string>, RuntimeFailure> =>
    Effect.gen(function* () {
      const found = (yield* instances.list()).filter((c) => c.kind === "mcp_server" && mailboxes.get(c.name)?.server == null)
      yield* Effect.forEach(
        found,
        (c) =>
          request(c.name, (box) =>
            box.server !== null
              ? Effect.void
              : interpreter.begin(box, firstStep(c, "adopt")).pipe(
                  // Connected or not, it is supervised now, and its tokens are fetched again.
                  Effect.ensuring(Effect.suspend(() => (box.life === null ? Effect.void : Effect.forkIn(flow.restore(c), box.life.scope)))),
                ),
          ).pipe(Effect.ignore),
        { concurrency: 4, discard: true },
      )
      // After their servers: an agent's instance is adopted only under a `per_agent` server.
      yield* isolated.adopt
      return found.map((c) => c.name)
    })

  /** A container event, for its server's mailbox. */
  const onEvent = (event: ContainerEvent): void => {
    const box = mailboxes.get(event.name)
    if (box?.server == null) return
    if (event.kind === "die" || event.kind === "oom")
      interpreter.offer(box, {
        _tag: "ContainerDied",
        containerId: event.containerId,
        exitCode: event.exitCode,
        outOfMemory: event.kind === "oom",
        at: event.at,
      })
    if (event.kind === "destroy") interpreter.offer(box, { _tag: "ContainerDestroyed", containerId: event.containerId })
  }

  /** The event feed broke: a crash may have gone unseen, so every server asks the runtime. */
  const onGap = (): void => {
    for (const box of mailboxes.values()) if (box.server !== null) interpreter.offer(box, { _tag: "EventFeedGap" })
  }

  return { adopt, onEvent, onGap }
}
