import type { HostMetrics, Instances } from "@dtma/domain"
import type { Context } from "koa"
import type { Config } from "../config.ts"
import type { Reply } from "../errorTable.ts"
import type { Logger } from "../logger.ts"

/** What the route handlers use. */
export interface HandlerDeps {
  readonly instances: Instances
  readonly hostMetrics: HostMetrics
  readonly config: Config
  readonly logger: Logger
  readonly now: () => Date
}

export const send = (ctx: Context, reply: Reply): void => {
  ctx.status = reply.status
  ctx.body = reply.body
}
