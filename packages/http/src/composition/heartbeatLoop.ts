import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { repeatHeartbeats, type Heartbeat } from "@dtma/domain"
import type { Logger } from "./logger.ts"

export interface HeartbeatLoop {
  /** Stops the loop, abandoning a heartbeat in flight; resolves once it has stopped. */
  stop(): Promise<void>
}

/**
 * Sends a heartbeat now and then every `interval` (default 60 s). A failed heartbeat is logged and
 * the loop goes on; nothing it meets can crash the process.
 */
export const startHeartbeatLoop = (options: {
  readonly heartbeat: Heartbeat
  readonly logger: Logger
  readonly interval?: Duration.Input
  readonly lifetime?: Scope.Scope
}): HeartbeatLoop => {
  const { logger } = options
  const report = (outcome: Exit.Exit<void, { readonly _tag: string; readonly message: string }>) =>
    Effect.sync(() => {
      if (Exit.isSuccess(outcome)) return logger.debug("heartbeat delivered")
      const failure = Cause.findErrorOption(outcome.cause)
      if (Option.isSome(failure)) logger.warn({ failure: failure.value._tag, reason: failure.value.message }, "heartbeat failed")
      else if (!Cause.hasInterruptsOnly(outcome.cause)) logger.error({ cause: Cause.pretty(outcome.cause) }, "heartbeat died (a bug)")
    })
  const loop = repeatHeartbeats(options.heartbeat, Duration.toMillis(Duration.fromInputUnsafe(options.interval ?? "60 seconds")), report)
  // In the use cases' lifetime scope when given: closing it stops the loop as it stops the rest.
  const fiber = Effect.runSync(options.lifetime === undefined ? Effect.forkDetach(loop) : Effect.forkIn(loop, options.lifetime))
  return {
    stop: async () => {
      await Effect.runPromise(Fiber.interrupt(fiber))
    },
  }
}
