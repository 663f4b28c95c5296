import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { defectReply, replyForFailure, type HttpFailure, type Operation, type Reply } from "./errorTable.ts"
import type { Logger } from "../composition/logger.ts"

/**
 * Runs a use case's effect at the edge and turns its exit into a reply: success through `onSuccess`,
 * an expected failure through the error table, a defect into a logged 500.
 */
export const replyOf = async <A, E extends HttpFailure>(
  effect: Effect.Effect<A, E>,
  options: { readonly operation: Operation; readonly logger: Logger; readonly onSuccess: (value: A) => Reply },
): Promise<Reply> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return options.onSuccess(exit.value)
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isSome(failure)) {
    const reply = replyForFailure(failure.value, options.operation)
    if (reply.status >= 500) {
      options.logger.warn({ operation: options.operation, failure: failure.value._tag, reason: failure.value.message }, "operation failed")
    }
    return reply
  }
  options.logger.error({ operation: options.operation, cause: Cause.pretty(exit.cause) }, "defect while handling a request (a bug)")
  return defectReply(options.operation)
}
