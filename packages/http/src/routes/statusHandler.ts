import { Effect } from "effect"
import type { Middleware } from "koa"
import { replyOf } from "../replyOf.ts"
import { statusBody } from "../statusBody.ts"
import { send, type HandlerDeps } from "./HandlerDeps.ts"

/** `GET /status` and `GET /tools/status`: managed instances and the host's metrics. */
export const statusHandler = (deps: HandlerDeps): Middleware => async (ctx) => {
  const snapshot = Effect.all({ instances: deps.instances.list(), system: deps.hostMetrics.sample() })
  send(
    ctx,
    await replyOf(snapshot, {
      operation: { verb: "list" },
      logger: deps.logger,
      onSuccess: ({ instances, system }) => ({ status: 200, body: statusBody({ instances, system, config: deps.config, now: deps.now() }) }),
    }),
  )
}
