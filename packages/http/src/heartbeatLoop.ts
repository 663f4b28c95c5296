import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { Heartbeat } from "@dtma/domain"
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
}): HeartbeatLoop => {
  const { logger } = options
  const once = options.heartbeat.send().pipe(
    Effect.tap(() => Effect.sync(() => logger.debug("heartbeat delivered"))),
    Effect.catchCause((cause) =>
      Effect.sync(() => {
        const failure = Cause.findErrorOption(cause)
        if (Option.isSome(failure)) logger.warn({ failure: failure.value._tag, reason: failure.value.message }, "heartbeat failed")
        else if (!Cause.hasInterruptsOnly(cause)) logger.error({ cause: Cause.pretty(cause) }, "heartbeat died (a bug)")
      }),
    ),
  )
  const fiber = Effect.runFork(once.pipe(Effect.repeat(Schedule.fixed(options.interval ?? "60 seconds"))))
  return {
    stop: async () => {
      await Effect.runPromise(Fiber.interrupt(fiber))
    },
  }
}
