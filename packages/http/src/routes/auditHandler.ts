import * as Effect from "effect/Effect"
import type { Middleware } from "koa"
import { auditQueryOf } from "../requests/auditQueryOf.ts"
import { replyOf } from "../responses/replyOf.ts"
import { send, type HandlerDeps } from "./HandlerDeps.ts"

/** `GET /audit?agentId=&server=&since=&limit=`: the newest audit records, newest first. */
export const auditHandler =
  (deps: Pick<HandlerDeps, "auditLog" | "logger">): Middleware =>
  async (ctx) => {
    const records = Effect.fromResult(auditQueryOf(ctx.query)).pipe(Effect.flatMap((query) => deps.auditLog.query(query)))
    send(
      ctx,
      await replyOf(records, {
        operation: { verb: "list", subject: "audit" },
        logger: deps.logger,
        onSuccess: (found) => ({ status: 200, body: { success: true, data: { records: found } } }),
      }),
    )
  }
