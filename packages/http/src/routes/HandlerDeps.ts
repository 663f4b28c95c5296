import type { HostMetrics, Instances, McpServers } from "@dtma/domain"
import type { Context } from "koa"
import type { Config } from "../config.ts"
import type { Reply } from "../errorTable.ts"
import type { Logger } from "../logger.ts"

/** What the route handlers use. */
export interface HandlerDeps {
  readonly instances: Instances
  readonly mcpServers: McpServers
  readonly hostMetrics: HostMetrics
  readonly config: Config
  readonly logger: Logger
  readonly now: () => Date
}

export const send = (ctx: Context, reply: Reply): void => {
  ctx.status = reply.status
  ctx.body = reply.body
}

const HOST = /^[A-Za-z0-9.:[\]-]{1,255}$/

/**
 * `http://<host>` as the caller reached the DTMA (its Host header), for URLs in answers; the
 * configured address when the header is missing or not a plain host.
 */
export const originOf = (ctx: Context, config: Config): string => {
  const host = ctx.get("host")
  return `${config.tls == null ? "http" : "https"}://${HOST.test(host) ? host : `${config.host}:${config.port}`}`
}
